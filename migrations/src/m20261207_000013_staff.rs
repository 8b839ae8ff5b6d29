//! Staff accounts and console sessions (issue 26): the clerks, supervisors and administrators
//! of a municipality who log in to the counter console, and their server-side sessions (only
//! a digest of the cookie's token is kept, with the session's CSRF token and when it was last
//! used, for the idle logout).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StaffAccounts {
    Table,
    Id,
    LgCode,
    Login,
    Name,
    Role,
    PasswordHash,
    Subject,
    CreatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum ConsoleSessions {
    Table,
    Id,
    StaffId,
    Csrf,
    CreatedAt,
    LastSeenAt,
    Lang,
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
                    .table(StaffAccounts::Table)
                    .col(string(StaffAccounts::Id).primary_key())
                    .col(string(StaffAccounts::LgCode))
                    .col(string(StaffAccounts::Login))
                    .col(string(StaffAccounts::Name))
                    .col(string(StaffAccounts::Role))
                    .col(string_null(StaffAccounts::PasswordHash))
                    .col(string_null(StaffAccounts::Subject))
                    .col(timestamp_with_time_zone(StaffAccounts::CreatedAt))
                    .col(timestamp_with_time_zone_null(StaffAccounts::DisabledAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(StaffAccounts::Table, StaffAccounts::LgCode)
                            .to(Municipalities::Table, Municipalities::LgCode),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("staff_accounts_login")
                    .table(StaffAccounts::Table)
                    .col(StaffAccounts::LgCode)
                    .col(StaffAccounts::Login)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // One account per identity of the municipality's provider (several NULLs allowed).
        manager
            .create_index(
                Index::create()
                    .name("staff_accounts_subject")
                    .table(StaffAccounts::Table)
                    .col(StaffAccounts::LgCode)
                    .col(StaffAccounts::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConsoleSessions::Table)
                    .col(string(ConsoleSessions::Id).primary_key())
                    .col(string(ConsoleSessions::StaffId))
                    .col(string(ConsoleSessions::Csrf))
                    .col(string(ConsoleSessions::Lang))
                    .col(timestamp_with_time_zone(ConsoleSessions::CreatedAt))
                    .col(timestamp_with_time_zone(ConsoleSessions::LastSeenAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConsoleSessions::Table, ConsoleSessions::StaffId)
                            .to(StaffAccounts::Table, StaffAccounts::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ConsoleSessions::Table.into_iden(),
            StaffAccounts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
