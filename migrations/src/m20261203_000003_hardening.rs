//! Hardening (issue 8): the size and format of stored idempotent responses, counted repeats of
//! refused accesses in the audit log, and signed checkpoints of the audit chain.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyRecords {
    Table,
    ClientId,
    Size,
    Format,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    RepeatCount,
}

/// Refused accesses counted since the first one of a window, per client and municipality.
#[derive(DeriveIden)]
enum AuditDenials {
    Table,
    ClientId,
    LgCode,
    FirstAt,
    LastAt,
    Repeats,
}

#[derive(DeriveIden)]
enum AuditCheckpoints {
    Table,
    Seq,
    Hash,
    CreatedAt,
    PrevSeq,
    Signature,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(IdempotencyRecords::Table)
                    .add_column(big_integer(IdempotencyRecords::Size).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(IdempotencyRecords::Table)
                    .add_column(small_integer(IdempotencyRecords::Format).default(1))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotency_records_client_id")
                    .table(IdempotencyRecords::Table)
                    .col(IdempotencyRecords::ClientId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .add_column(big_integer_null(AuditEvents::RepeatCount))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditDenials::Table)
                    .col(string(AuditDenials::ClientId))
                    .col(string_len(AuditDenials::LgCode, 6))
                    .col(timestamp_with_time_zone(AuditDenials::FirstAt))
                    .col(timestamp_with_time_zone(AuditDenials::LastAt))
                    .col(big_integer(AuditDenials::Repeats))
                    .primary_key(
                        Index::create()
                            .col(AuditDenials::ClientId)
                            .col(AuditDenials::LgCode),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditCheckpoints::Table)
                    .col(big_integer(AuditCheckpoints::Seq).primary_key())
                    .col(string_len(AuditCheckpoints::Hash, 64))
                    .col(timestamp_with_time_zone(AuditCheckpoints::CreatedAt))
                    .col(big_integer(AuditCheckpoints::PrevSeq))
                    .col(string_len_null(AuditCheckpoints::Signature, 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditCheckpoints::Table.into_iden(),
            AuditDenials::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .drop_column(AuditEvents::RepeatCount)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_idempotency_records_client_id")
                    .table(IdempotencyRecords::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            IdempotencyRecords::Format.into_iden(),
            IdempotencyRecords::Size.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(IdempotencyRecords::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
