//! What core systems answer (issue 12, the pull link): an application's rejection reason in
//! the core system's words, and an index for reading a municipality's applications of one
//! business area in order.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Applications {
    Table,
    LgCode,
    Area,
    Id,
    Reason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(ColumnDef::new(Applications::Reason).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("applications_by_area")
                    .table(Applications::Table)
                    .col(Applications::LgCode)
                    .col(Applications::Area)
                    .col(Applications::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("applications_by_area").to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .drop_column(Applications::Reason)
                    .to_owned(),
            )
            .await
    }
}
