//! The one-stop visit (issue 10): one row per visit; the household (events, members, facts
//! with their sources) is one JSON document, read and written whole; the applications a
//! submitted visit turns into, one row each; and the municipalities' changes to the procedure
//! catalogue, one row per version.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Visits {
    Table,
    Id,
    LgCode,
    Status,
    Ticket,
    CatalogVersion,
    Household,
    OpenedAt,
    OpenedOn,
    ClosedAt,
    UpdatedAt,
    OpenedByClient,
    OpenedByStaff,
    Revision,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    VisitId,
    LgCode,
    ProcedureId,
    Area,
    Member,
    Form,
    Document,
    State,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CatalogOverrides {
    Table,
    LgCode,
    Version,
    Document,
    CreatedAt,
    ClientId,
    Staff,
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
                    .table(Visits::Table)
                    .col(string(Visits::Id).primary_key())
                    .col(string(Visits::LgCode))
                    .col(string(Visits::Status))
                    .col(string_null(Visits::Ticket))
                    .col(string(Visits::CatalogVersion))
                    .col(text(Visits::Household))
                    .col(timestamp_with_time_zone(Visits::OpenedAt))
                    .col(string(Visits::OpenedOn))
                    .col(timestamp_with_time_zone_null(Visits::ClosedAt))
                    .col(timestamp_with_time_zone(Visits::UpdatedAt))
                    .col(string_null(Visits::OpenedByClient))
                    .col(string_null(Visits::OpenedByStaff))
                    .col(big_integer(Visits::Revision))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Visits::Table, Visits::LgCode)
                            .to(Municipalities::Table, Municipalities::LgCode),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("visits_by_day")
                    .table(Visits::Table)
                    .col(Visits::LgCode)
                    .col(Visits::OpenedOn)
                    .col(Visits::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Applications::Table)
                    .col(string(Applications::Id).primary_key())
                    .col(string(Applications::VisitId))
                    .col(string(Applications::LgCode))
                    .col(string(Applications::ProcedureId))
                    .col(string(Applications::Area))
                    .col(string_null(Applications::Member))
                    .col(string_null(Applications::Form))
                    .col(text_null(Applications::Document))
                    .col(string(Applications::State))
                    .col(timestamp_with_time_zone(Applications::CreatedAt))
                    .col(timestamp_with_time_zone(Applications::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Applications::Table, Applications::VisitId)
                            .to(Visits::Table, Visits::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("applications_by_visit")
                    .table(Applications::Table)
                    .col(Applications::VisitId)
                    .col(Applications::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CatalogOverrides::Table)
                    .col(string(CatalogOverrides::LgCode))
                    .col(big_integer(CatalogOverrides::Version))
                    .col(text(CatalogOverrides::Document))
                    .col(timestamp_with_time_zone(CatalogOverrides::CreatedAt))
                    .col(string_null(CatalogOverrides::ClientId))
                    .col(string_null(CatalogOverrides::Staff))
                    .primary_key(
                        Index::create()
                            .col(CatalogOverrides::LgCode)
                            .col(CatalogOverrides::Version),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CatalogOverrides::Table, CatalogOverrides::LgCode)
                            .to(Municipalities::Table, Municipalities::LgCode),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Applications::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(CatalogOverrides::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Visits::Table).to_owned())
            .await
    }
}
