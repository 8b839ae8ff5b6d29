use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "visits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub lg_code: String,
    pub status: String,
    pub ticket: Option<String>,
    pub catalog_version: String,
    /// The household document (JSON).
    #[sea_orm(column_type = "Text")]
    pub household: String,
    pub opened_at: DateTimeUtc,
    /// YYYY-MM-DD in Japan.
    pub opened_on: String,
    pub closed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    pub opened_by_client: Option<String>,
    pub opened_by_staff: Option<String>,
    /// The counter (窓口) the visit was opened at.
    pub counter: Option<String>,
    pub revision: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
