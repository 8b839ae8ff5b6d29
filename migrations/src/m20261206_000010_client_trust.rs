//! Hardening, second pass (issue 21): the addresses each client authenticated from (so that
//! lockout spares them after a restart too), and the business areas a core system's client is
//! limited to on the pull link.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    LinkAreas,
}

/// A client's recent successful authentication from one address.
#[derive(DeriveIden)]
enum ClientAddresses {
    Table,
    ClientId,
    Address,
    LastSuccessAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClientAddresses::Table)
                    .col(uuid(ClientAddresses::ClientId))
                    .col(string_len(ClientAddresses::Address, 45))
                    .col(timestamp_with_time_zone(ClientAddresses::LastSuccessAt))
                    .primary_key(
                        Index::create()
                            .col(ClientAddresses::ClientId)
                            .col(ClientAddresses::Address),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_client_addresses_client")
                            .from(ClientAddresses::Table, ClientAddresses::ClientId)
                            .to(Clients::Table, Clients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Space-separated business areas; NULL: every area.
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .add_column(string_null(Clients::LinkAreas))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .drop_column(Clients::LinkAreas)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ClientAddresses::Table).to_owned())
            .await
    }
}
