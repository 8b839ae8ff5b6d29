use sea_orm::entity::prelude::*;

/// Where a vendor's client learns of its applications' states.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub lg_code: String,
    pub client_id: String,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// The signing secret: sealed with the server key when there is one.
    pub secret: Vec<u8>,
    pub sealed: bool,
    pub created_at: DateTimeUtc,
    /// The secret a rotation replaced, still signing until `previous_until`.
    pub previous_secret: Option<Vec<u8>>,
    pub previous_sealed: Option<bool>,
    pub previous_until: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
