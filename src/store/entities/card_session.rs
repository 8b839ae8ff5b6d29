use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "card_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub lg_code: String,
    pub device_id: String,
    pub purpose: String,
    pub state: String,
    pub visit_id: Option<String>,
    /// 照合番号B typed by the clerk, sealed; cleared when the session ends.
    pub secret: Option<Vec<u8>>,
    /// The verified result (JSON), sealed.
    pub result: Option<Vec<u8>>,
    /// The failure (JSON: code, tries left, check).
    #[sea_orm(column_type = "Text", nullable)]
    pub failure: Option<String>,
    /// The device-port connection driving the session, once one has taken it.
    pub driver: Option<String>,
    pub client_id: Option<String>,
    pub staff: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
