//! Idempotency keys of creating requests, with their (encrypted) first responses.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyRecords {
    Table,
    ClientId,
    KeyHash,
    Fingerprint,
    State,
    Sealed,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyRecords::Table)
                    .col(string(IdempotencyRecords::ClientId))
                    .col(string_len(IdempotencyRecords::KeyHash, 64))
                    .col(string_len(IdempotencyRecords::Fingerprint, 64))
                    .col(string(IdempotencyRecords::State))
                    .col(blob_null(IdempotencyRecords::Sealed))
                    .col(timestamp_with_time_zone(IdempotencyRecords::CreatedAt))
                    .col(timestamp_with_time_zone(IdempotencyRecords::ExpiresAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyRecords::ClientId)
                            .col(IdempotencyRecords::KeyHash),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotency_records_expires_at")
                    .table(IdempotencyRecords::Table)
                    .col(IdempotencyRecords::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyRecords::Table).to_owned())
            .await
    }
}
