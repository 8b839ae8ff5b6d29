//! The transactional outbox (issue 12): one delivery per application whose business area has a
//! pushing connector (`file`, `http`), written in the transaction that submits the visit.
//! Workers of every replica claim due deliveries (`FOR UPDATE SKIP LOCKED` on PostgreSQL), hold
//! them under a lease, and record the outcome: delivered, retried later, or dead.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    ApplicationId,
    LgCode,
    Area,
    Connector,
    Line,
    State,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(string(Deliveries::Id).primary_key())
                    .col(string(Deliveries::ApplicationId))
                    .col(string(Deliveries::LgCode))
                    .col(string(Deliveries::Area))
                    .col(string(Deliveries::Connector))
                    .col(string(Deliveries::Line))
                    .col(string(Deliveries::State))
                    .col(integer(Deliveries::Attempts))
                    .col(timestamp_with_time_zone(Deliveries::NextAttemptAt))
                    .col(string_null(Deliveries::LeaseOwner))
                    .col(timestamp_with_time_zone_null(Deliveries::LeaseUntil))
                    .col(text_null(Deliveries::LastError))
                    .col(timestamp_with_time_zone(Deliveries::CreatedAt))
                    .col(timestamp_with_time_zone(Deliveries::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Deliveries::DeliveredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliveries::Table, Deliveries::ApplicationId)
                            .to(Applications::Table, Applications::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Pending work in claim order (pending rows stay together however many delivered
        // ones pile up); the line (resident and business area) in order; a municipality's
        // deliveries for the operator's lists.
        for (name, columns) in [
            ("deliveries_due", vec![Deliveries::State, Deliveries::Id]),
            ("deliveries_line", vec![Deliveries::Line, Deliveries::Id]),
            (
                "deliveries_municipality",
                vec![Deliveries::LgCode, Deliveries::State, Deliveries::Id],
            ),
            ("deliveries_application", vec![Deliveries::ApplicationId]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Deliveries::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Deliveries::Table).to_owned())
            .await
    }
}
