use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "catalog_overrides")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub lg_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i64,
    /// The override document (JSON).
    #[sea_orm(column_type = "Text")]
    pub document: String,
    pub created_at: DateTimeUtc,
    pub client_id: Option<String>,
    pub staff: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
