use sea_orm::entity::prelude::*;

/// One application's way to its core system through a pushing connector.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub application_id: String,
    pub lg_code: String,
    pub area: String,
    /// `file`, `http` or `webhook`.
    pub connector: String,
    /// Deliveries of one line (a resident's applications of one business area) go in order.
    pub line: String,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
    /// A webhook message: the endpoint it goes to.
    pub endpoint_id: Option<String>,
    /// A webhook message: its body (JSON).
    #[sea_orm(column_type = "Text", nullable)]
    pub payload: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
