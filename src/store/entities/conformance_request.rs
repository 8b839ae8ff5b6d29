use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conformance_requests")]
pub struct Model {
    /// UUID v7: requests received in the same millisecond keep their order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub session_id: String,
    /// When the request arrived, milliseconds since the epoch.
    pub at_ms: i64,
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub actor: bool,
    pub token_digest: Option<String>,
    pub body_sha256: Option<String>,
    pub status: Option<i32>,
    pub code: Option<String>,
    pub retry_after: Option<i64>,
    pub issued_digest: Option<String>,
    pub issued_lifetime: Option<i64>,
    /// The script step whose fault answered this request.
    pub fault: Option<String>,
    /// For a webhook test: whether the app's receiver took the message.
    pub webhook_taken: Option<bool>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
