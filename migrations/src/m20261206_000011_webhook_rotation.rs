//! The vendor contract, second pass (issue 23): a webhook secret can be rotated. Until the
//! overlap ends, each message is signed with the new secret and the one it replaced, as
//! Standard Webhooks allows, so a receiver can switch without losing a message.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    PreviousSecret,
    PreviousSealed,
    PreviousUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [
            blob_null(WebhookEndpoints::PreviousSecret),
            boolean_null(WebhookEndpoints::PreviousSealed),
            timestamp_with_time_zone_null(WebhookEndpoints::PreviousUntil),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(WebhookEndpoints::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            WebhookEndpoints::PreviousSecret,
            WebhookEndpoints::PreviousSealed,
            WebhookEndpoints::PreviousUntil,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(WebhookEndpoints::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
