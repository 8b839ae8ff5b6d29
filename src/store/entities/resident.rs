use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "residents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub lg_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub addressee_number: String,
    pub household_number: String,
    /// Byte for byte as the registry holds it.
    pub name: String,
    pub name_kana: String,
    pub alias_name: Option<String>,
    /// ISO at the date's precision; none for 年月日不詳.
    pub birth_date: Option<String>,
    pub birth_date_text: String,
    pub birth_date_exact: bool,
    pub sex: String,
    pub relationship: String,
    pub postal_code: Option<String>,
    pub prefecture: String,
    pub city: String,
    pub street_address: String,
    pub city_block: Option<String>,
    pub building_name_etc: Option<String>,
    /// A registry date as JSON (`{"text", "iso", "exact"}`).
    pub resident_since: Option<String>,
    pub last_change_reason: Option<String>,
    pub last_change_date: Option<String>,
    pub resident_kind: String,
    pub nationality: Option<String>,
    pub residence_status: Option<String>,
    pub residence_period_end: Option<String>,
    /// Sealed with the server key, when the operator lets the column in.
    pub my_number: Option<Vec<u8>>,
    pub kana_key: String,
    pub name_key: String,
    pub address_key: String,
    pub import_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
