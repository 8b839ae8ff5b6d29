use sea_orm::entity::prelude::*;

/// The chain head at one moment, signed with the server key when there is one.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_checkpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub hash: String,
    pub created_at: DateTimeUtc,
    /// `seq` of the checkpoint before this one (0 for the first), covered by the signature.
    pub prev_seq: i64,
    /// HMAC-SHA-256 (hex) under the server key's audit subkey.
    pub signature: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
