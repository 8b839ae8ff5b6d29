//! Tenants, OAuth2 clients, signing keys and the audit log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Municipalities {
    Table,
    LgCode,
    Name,
    NameKana,
    ContactDepartment,
    ContactPhone,
    ContactEmail,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    Name,
    SecretHash,
    Scopes,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ClientMunicipalities {
    Table,
    ClientId,
    LgCode,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    Algorithm,
    PrivateKeyDer,
    CreatedAt,
    RetiredAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Seq,
    Id,
    OccurredAt,
    RequestId,
    ClientId,
    Actor,
    LgCode,
    Action,
    Target,
    Outcome,
    PrevHash,
    Hash,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Municipalities::Table)
                    .col(string_len(Municipalities::LgCode, 6).primary_key())
                    .col(string(Municipalities::Name))
                    .col(string_null(Municipalities::NameKana))
                    .col(string_null(Municipalities::ContactDepartment))
                    .col(string_null(Municipalities::ContactPhone))
                    .col(string_null(Municipalities::ContactEmail))
                    .col(timestamp_with_time_zone(Municipalities::CreatedAt))
                    .col(timestamp_with_time_zone(Municipalities::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Clients::Table)
                    .col(uuid(Clients::Id).primary_key())
                    .col(string(Clients::Name))
                    .col(string(Clients::SecretHash))
                    .col(string(Clients::Scopes))
                    .col(timestamp_with_time_zone(Clients::CreatedAt))
                    .col(timestamp_with_time_zone_null(Clients::RevokedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ClientMunicipalities::Table)
                    .col(uuid(ClientMunicipalities::ClientId))
                    .col(string_len(ClientMunicipalities::LgCode, 6))
                    .primary_key(
                        Index::create()
                            .col(ClientMunicipalities::ClientId)
                            .col(ClientMunicipalities::LgCode),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_client_municipalities_client")
                            .from(ClientMunicipalities::Table, ClientMunicipalities::ClientId)
                            .to(Clients::Table, Clients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_client_municipalities_municipality")
                            .from(ClientMunicipalities::Table, ClientMunicipalities::LgCode)
                            .to(Municipalities::Table, Municipalities::LgCode)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(string(SigningKeys::Kid).primary_key())
                    .col(string(SigningKeys::Algorithm))
                    .col(blob(SigningKeys::PrivateKeyDer))
                    .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(SigningKeys::RetiredAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_integer(AuditEvents::Seq).primary_key())
                    .col(uuid_uniq(AuditEvents::Id))
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .col(string_null(AuditEvents::RequestId))
                    .col(string_null(AuditEvents::ClientId))
                    .col(string_null(AuditEvents::Actor))
                    .col(string_len_null(AuditEvents::LgCode, 6))
                    .col(string(AuditEvents::Action))
                    .col(string_null(AuditEvents::Target))
                    .col(string(AuditEvents::Outcome))
                    .col(string_len(AuditEvents::PrevHash, 64))
                    .col(string_len(AuditEvents::Hash, 64))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(
                Index::create()
                    .name("idx_audit_events_lg_code_seq")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::LgCode)
                    .col(AuditEvents::Seq)
                    .to_owned(),
            )
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            SigningKeys::Table.into_iden(),
            ClientMunicipalities::Table.into_iden(),
            Clients::Table.into_iden(),
            Municipalities::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
