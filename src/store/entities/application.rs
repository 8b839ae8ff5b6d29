use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub visit_id: String,
    pub lg_code: String,
    pub procedure_id: String,
    pub area: String,
    pub member: Option<String>,
    pub form: Option<String>,
    /// The confirmed form document (JSON), when filed on a form.
    #[sea_orm(column_type = "Text", nullable)]
    pub document: Option<String>,
    pub state: String,
    /// Why the core system rejected it, in its words.
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
