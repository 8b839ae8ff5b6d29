use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conformance_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The client that opened the session (scope `conformance`).
    pub opened_by: String,
    /// The session's own client, whose requests are recorded.
    #[sea_orm(unique)]
    pub client_id: String,
    /// The sandbox municipality of the session.
    #[sea_orm(unique)]
    pub lg_code: String,
    pub product: Option<String>,
    pub slow_seconds: i64,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
