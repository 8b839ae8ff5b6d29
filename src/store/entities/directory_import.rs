use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "directory_imports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub lg_code: String,
    /// `full` or `diff`.
    pub kind: String,
    pub file_name: String,
    /// SHA-256 (hex) of the file's bytes.
    pub sha256: String,
    pub rows: i64,
    pub added: i64,
    pub changed: i64,
    pub removed: i64,
    pub staff: Option<String>,
    pub client_id: Option<String>,
    pub started_at: DateTimeUtc,
    pub finished_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
