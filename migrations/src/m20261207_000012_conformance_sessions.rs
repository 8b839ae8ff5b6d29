//! Conformance sessions (issue 25): a vendor's counter app is judged by what it sends the
//! gateway. A session owns a sandbox municipality and a client of it alone; every request of
//! that client is kept (nothing of a body but its SHA-256, tokens only as digests); each fault
//! the session's script injects is claimed once; the key that signs session reports is
//! generated on first use and kept like the device CA's (sealed with the server key).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConformanceSessions {
    Table,
    Id,
    OpenedBy,
    ClientId,
    LgCode,
    Product,
    SlowSeconds,
    CreatedAt,
    ExpiresAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum ConformanceRequests {
    Table,
    Id,
    SessionId,
    AtMs,
    Method,
    Path,
    IdempotencyKey,
    Actor,
    TokenDigest,
    BodySha256,
    Status,
    Code,
    RetryAfter,
    IssuedDigest,
    IssuedLifetime,
    Fault,
    WebhookTaken,
}

#[derive(DeriveIden)]
enum ConformanceFaults {
    Table,
    SessionId,
    Step,
    ServedAt,
}

#[derive(DeriveIden)]
enum ConformanceKey {
    Table,
    Id,
    PrivateKeyDer,
    CreatedAt,
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
                    .table(ConformanceSessions::Table)
                    .col(string(ConformanceSessions::Id).primary_key())
                    .col(string(ConformanceSessions::OpenedBy))
                    .col(string(ConformanceSessions::ClientId).unique_key())
                    .col(string(ConformanceSessions::LgCode).unique_key())
                    .col(string_null(ConformanceSessions::Product))
                    .col(big_integer(ConformanceSessions::SlowSeconds))
                    .col(timestamp_with_time_zone(ConformanceSessions::CreatedAt))
                    .col(timestamp_with_time_zone(ConformanceSessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ConformanceSessions::ClosedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConformanceSessions::Table, ConformanceSessions::LgCode)
                            .to(Municipalities::Table, Municipalities::LgCode),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConformanceRequests::Table)
                    .col(string(ConformanceRequests::Id).primary_key())
                    .col(string(ConformanceRequests::SessionId))
                    .col(big_integer(ConformanceRequests::AtMs))
                    .col(string(ConformanceRequests::Method))
                    .col(text(ConformanceRequests::Path))
                    .col(string_null(ConformanceRequests::IdempotencyKey))
                    .col(boolean(ConformanceRequests::Actor))
                    .col(string_null(ConformanceRequests::TokenDigest))
                    .col(string_null(ConformanceRequests::BodySha256))
                    .col(integer_null(ConformanceRequests::Status))
                    .col(string_null(ConformanceRequests::Code))
                    .col(big_integer_null(ConformanceRequests::RetryAfter))
                    .col(string_null(ConformanceRequests::IssuedDigest))
                    .col(big_integer_null(ConformanceRequests::IssuedLifetime))
                    .col(string_null(ConformanceRequests::Fault))
                    .col(boolean_null(ConformanceRequests::WebhookTaken))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConformanceRequests::Table, ConformanceRequests::SessionId)
                            .to(ConformanceSessions::Table, ConformanceSessions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("conformance_requests_in_order")
                    .table(ConformanceRequests::Table)
                    .col(ConformanceRequests::SessionId)
                    .col(ConformanceRequests::AtMs)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConformanceFaults::Table)
                    .col(string(ConformanceFaults::SessionId))
                    .col(string(ConformanceFaults::Step))
                    .col(timestamp_with_time_zone(ConformanceFaults::ServedAt))
                    .primary_key(
                        Index::create()
                            .col(ConformanceFaults::SessionId)
                            .col(ConformanceFaults::Step),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConformanceFaults::Table, ConformanceFaults::SessionId)
                            .to(ConformanceSessions::Table, ConformanceSessions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConformanceKey::Table)
                    .col(string(ConformanceKey::Id).primary_key())
                    .col(blob(ConformanceKey::PrivateKeyDer))
                    .col(timestamp_with_time_zone(ConformanceKey::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ConformanceKey::Table.into_iden(),
            ConformanceFaults::Table.into_iden(),
            ConformanceRequests::Table.into_iden(),
            ConformanceSessions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
