use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "devices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub lg_code: String,
    pub counter_name: String,
    /// SHA-256 (hex) of the one-time enrolment code, until it is used.
    pub enrolment_code_hash: Option<String>,
    pub enrolment_expires_at: Option<DateTimeUtc>,
    /// SHA-256 (hex) of the device certificate, once enrolled.
    pub certificate_sha256: Option<String>,
    pub created_at: DateTimeUtc,
    pub enrolled_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_seen_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
