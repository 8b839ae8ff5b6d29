//! Webhooks (issue 12): the endpoints a vendor registers to learn of its applications' states,
//! and the messages to them, which ride in the outbox with the connectors' deliveries (the
//! same workers, retries and dead letter): a delivery may carry an endpoint and its payload.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    LgCode,
    ClientId,
    Url,
    Secret,
    Sealed,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    EndpointId,
    Payload,
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
                    .table(WebhookEndpoints::Table)
                    .col(string(WebhookEndpoints::Id).primary_key())
                    .col(string(WebhookEndpoints::LgCode))
                    .col(string(WebhookEndpoints::ClientId))
                    .col(text(WebhookEndpoints::Url))
                    .col(blob(WebhookEndpoints::Secret))
                    .col(boolean(WebhookEndpoints::Sealed))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    .col(timestamp_with_time_zone_null(WebhookEndpoints::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookEndpoints::Table, WebhookEndpoints::LgCode)
                            .to(Municipalities::Table, Municipalities::LgCode),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_endpoints_client")
                    .table(WebhookEndpoints::Table)
                    .col(WebhookEndpoints::LgCode)
                    .col(WebhookEndpoints::ClientId)
                    .to_owned(),
            )
            .await?;
        for column in [
            ColumnDef::new(Deliveries::EndpointId)
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(Deliveries::Payload).text().null().to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Deliveries::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Deliveries::EndpointId, Deliveries::Payload] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Deliveries::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(WebhookEndpoints::Table).to_owned())
            .await
    }
}
