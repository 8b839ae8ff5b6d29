//! The resident directory (issue 12): one row per resident of a municipality as the 住民記録
//! system's files last said, with the search keys derived from it; one row per file applied,
//! so that the same file applied again changes nothing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Residents {
    Table,
    LgCode,
    AddresseeNumber,
    HouseholdNumber,
    Name,
    NameKana,
    AliasName,
    BirthDate,
    BirthDateText,
    BirthDateExact,
    Sex,
    Relationship,
    PostalCode,
    Prefecture,
    City,
    StreetAddress,
    CityBlock,
    BuildingNameEtc,
    ResidentSince,
    LastChangeReason,
    LastChangeDate,
    ResidentKind,
    Nationality,
    ResidenceStatus,
    ResidencePeriodEnd,
    MyNumber,
    KanaKey,
    NameKey,
    AddressKey,
    ImportId,
}

#[derive(DeriveIden)]
enum DirectoryImports {
    Table,
    Id,
    LgCode,
    Kind,
    FileName,
    Sha256,
    Rows,
    Added,
    Changed,
    Removed,
    Staff,
    ClientId,
    StartedAt,
    FinishedAt,
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
                    .table(DirectoryImports::Table)
                    .col(string(DirectoryImports::Id).primary_key())
                    .col(string(DirectoryImports::LgCode))
                    .col(string(DirectoryImports::Kind))
                    .col(string(DirectoryImports::FileName))
                    .col(string(DirectoryImports::Sha256))
                    .col(big_integer(DirectoryImports::Rows))
                    .col(big_integer(DirectoryImports::Added))
                    .col(big_integer(DirectoryImports::Changed))
                    .col(big_integer(DirectoryImports::Removed))
                    .col(string_null(DirectoryImports::Staff))
                    .col(string_null(DirectoryImports::ClientId))
                    .col(timestamp_with_time_zone(DirectoryImports::StartedAt))
                    .col(timestamp_with_time_zone(DirectoryImports::FinishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DirectoryImports::Table, DirectoryImports::LgCode)
                            .to(Municipalities::Table, Municipalities::LgCode),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("directory_imports_file")
                    .table(DirectoryImports::Table)
                    .col(DirectoryImports::LgCode)
                    .col(DirectoryImports::Sha256)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Residents::Table)
                    .col(string(Residents::LgCode))
                    .col(string(Residents::AddresseeNumber))
                    .col(string(Residents::HouseholdNumber))
                    .col(text(Residents::Name))
                    .col(text(Residents::NameKana))
                    .col(text_null(Residents::AliasName))
                    .col(string_null(Residents::BirthDate))
                    .col(string(Residents::BirthDateText))
                    .col(boolean(Residents::BirthDateExact))
                    .col(string(Residents::Sex))
                    .col(string(Residents::Relationship))
                    .col(string_null(Residents::PostalCode))
                    .col(text(Residents::Prefecture))
                    .col(text(Residents::City))
                    .col(text(Residents::StreetAddress))
                    .col(text_null(Residents::CityBlock))
                    .col(text_null(Residents::BuildingNameEtc))
                    .col(text_null(Residents::ResidentSince))
                    .col(text_null(Residents::LastChangeReason))
                    .col(text_null(Residents::LastChangeDate))
                    .col(string(Residents::ResidentKind))
                    .col(text_null(Residents::Nationality))
                    .col(text_null(Residents::ResidenceStatus))
                    .col(text_null(Residents::ResidencePeriodEnd))
                    .col(blob_null(Residents::MyNumber))
                    .col(text(Residents::KanaKey))
                    .col(text(Residents::NameKey))
                    .col(text(Residents::AddressKey))
                    .col(string(Residents::ImportId))
                    .primary_key(
                        Index::create()
                            .col(Residents::LgCode)
                            .col(Residents::AddresseeNumber),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Residents::Table, Residents::LgCode)
                            .to(Municipalities::Table, Municipalities::LgCode),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("residents_kana", Residents::KanaKey),
            ("residents_household", Residents::HouseholdNumber),
            ("residents_birth", Residents::BirthDate),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Residents::Table)
                        .col(Residents::LgCode)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Residents::Table.into_iden(),
            DirectoryImports::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
