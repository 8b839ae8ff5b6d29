use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    /// SHA-256 of client and key; the key itself is not stored.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_hash: String,
    pub fingerprint: String,
    /// `in_progress` or `completed`.
    pub state: String,
    /// The first response, encrypted with a key derived from the idempotency key.
    pub sealed: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// Bytes of `sealed`, for the per-client quota.
    pub size: i64,
    /// 1: JSON sealed under a key from the Idempotency-Key alone (before 2026-12);
    /// 2: bytes sealed under a key that also mixes in the server key.
    pub format: i16,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
