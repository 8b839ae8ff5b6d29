use sea_orm::entity::prelude::*;

/// Refused accesses of one client to one municipality since `first_at`; the first is in the
/// audit chain already, `repeats` counts the ones after it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_denials")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub lg_code: String,
    pub first_at: DateTimeUtc,
    pub last_at: DateTimeUtc,
    pub repeats: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
