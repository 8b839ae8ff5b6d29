//! Counter PCs and card sessions (issue 11): the gateway's device CA (one row, its key sealed
//! with the server key when there is one); one row per counter PC's bridge, enrolled by a
//! one-time code and identified afterwards by its certificate; one row per card session,
//! whose result is sealed and kept only until it expires.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DeviceAuthority {
    Table,
    Id,
    CertificateDer,
    PrivateKeyDer,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Devices {
    Table,
    Id,
    LgCode,
    CounterName,
    EnrolmentCodeHash,
    EnrolmentExpiresAt,
    CertificateSha256,
    CreatedAt,
    EnrolledAt,
    RevokedAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum CardSessions {
    Table,
    Id,
    LgCode,
    DeviceId,
    Purpose,
    State,
    VisitId,
    Secret,
    Result,
    Failure,
    Driver,
    ClientId,
    Staff,
    CreatedAt,
    UpdatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Municipalities {
    Table,
    LgCode,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeviceAuthority::Table)
                    .col(string(DeviceAuthority::Id).primary_key())
                    .col(blob(DeviceAuthority::CertificateDer))
                    .col(blob(DeviceAuthority::PrivateKeyDer))
                    .col(timestamp_with_time_zone(DeviceAuthority::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Devices::Table)
                    .col(string(Devices::Id).primary_key())
                    .col(string(Devices::LgCode))
                    .col(string(Devices::CounterName))
                    .col(string_null(Devices::EnrolmentCodeHash).unique_key())
                    .col(timestamp_with_time_zone_null(Devices::EnrolmentExpiresAt))
                    .col(string_null(Devices::CertificateSha256).unique_key())
                    .col(timestamp_with_time_zone(Devices::CreatedAt))
                    .col(timestamp_with_time_zone_null(Devices::EnrolledAt))
                    .col(timestamp_with_time_zone_null(Devices::RevokedAt))
                    .col(timestamp_with_time_zone_null(Devices::LastSeenAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Devices::Table, Devices::LgCode)
                            .to(Municipalities::Table, Municipalities::LgCode),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CardSessions::Table)
                    .col(string(CardSessions::Id).primary_key())
                    .col(string(CardSessions::LgCode))
                    .col(string(CardSessions::DeviceId))
                    .col(string(CardSessions::Purpose))
                    .col(string(CardSessions::State))
                    .col(string_null(CardSessions::VisitId))
                    .col(blob_null(CardSessions::Secret))
                    .col(blob_null(CardSessions::Result))
                    .col(text_null(CardSessions::Failure))
                    .col(string_null(CardSessions::Driver))
                    .col(string_null(CardSessions::ClientId))
                    .col(string_null(CardSessions::Staff))
                    .col(timestamp_with_time_zone(CardSessions::CreatedAt))
                    .col(timestamp_with_time_zone(CardSessions::UpdatedAt))
                    .col(timestamp_with_time_zone(CardSessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CardSessions::Table, CardSessions::DeviceId)
                            .to(Devices::Table, Devices::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("card_sessions_waiting")
                    .table(CardSessions::Table)
                    .col(CardSessions::DeviceId)
                    .col(CardSessions::State)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CardSessions::Table.into_iden(),
            Devices::Table.into_iden(),
            DeviceAuthority::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
