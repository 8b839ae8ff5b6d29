//! Rows of `municipalities`.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::entities::municipality::{ActiveModel, Column, Entity, Model};
use super::{Page, Store, StoreError};
use crate::audit::{Action, Actor, AuditEntry};
use crate::tenancy::{Contact, LgCode, Municipality, MunicipalityPatch, NewMunicipality};

fn to_domain(row: Model) -> Result<Municipality, StoreError> {
    Ok(Municipality {
        lg_code: LgCode::parse(&row.lg_code)
            .map_err(|e| StoreError::Corrupt(format!("municipalities.lg_code: {e}")))?,
        name: row.name,
        name_kana: row.name_kana,
        contact: Contact {
            department: row.contact_department,
            phone: row.contact_phone,
            email: row.contact_email,
        },
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

impl Store {
    /// Registers a municipality and records who did it. `Conflict` when it exists already.
    pub async fn create_municipality(
        &self,
        new: &NewMunicipality,
        actor: &Actor,
    ) -> Result<Municipality, StoreError> {
        let now = crate::clock::now();
        let txn = self.begin_write().await?;
        let row = ActiveModel {
            lg_code: Set(new.lg_code.to_string()),
            name: Set(new.name.clone()),
            name_kana: Set(new.name_kana.clone()),
            contact_department: Set(None),
            contact_phone: Set(None),
            contact_email: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(StoreError::classify)?;
        self.commit_audited(
            txn,
            AuditEntry::success(
                actor,
                Action::MunicipalityCreate,
                Some(new.lg_code),
                new.lg_code.to_string(),
            ),
        )
        .await?;
        to_domain(row)
    }

    pub async fn municipality(&self, lg_code: &LgCode) -> Result<Option<Municipality>, StoreError> {
        Entity::find_by_id(lg_code.to_string())
            .one(&self.db)
            .await?
            .map(to_domain)
            .transpose()
    }

    /// Municipalities in code order, after `after`; only those in `only` when given.
    pub async fn list_municipalities(
        &self,
        after: Option<&str>,
        limit: u64,
        only: Option<&[LgCode]>,
    ) -> Result<Page<Municipality>, StoreError> {
        let mut query = Entity::find().order_by_asc(Column::LgCode);
        if let Some(after) = after {
            query = query.filter(Column::LgCode.gt(after));
        }
        if let Some(only) = only {
            query = query.filter(Column::LgCode.is_in(only.iter().map(LgCode::to_string)));
        }
        let rows = query.limit(limit + 1).all(&self.db).await?;
        Page::of(rows, limit, |r| r.lg_code.clone(), to_domain)
    }

    /// Applies a checked patch; `None` when the municipality does not exist.
    pub async fn update_municipality(
        &self,
        lg_code: &LgCode,
        patch: &MunicipalityPatch,
        actor: &Actor,
    ) -> Result<Option<Municipality>, StoreError> {
        let txn = self.begin_write().await?;
        let Some(row) = Entity::find_by_id(lg_code.to_string()).one(&txn).await? else {
            return Ok(None);
        };
        let mut municipality = to_domain(row.clone())?;
        patch.apply(&mut municipality);
        municipality.updated_at = crate::clock::now();
        let mut active = row.into_active_model();
        active.name = Set(municipality.name.clone());
        active.name_kana = Set(municipality.name_kana.clone());
        active.contact_department = Set(municipality.contact.department.clone());
        active.contact_phone = Set(municipality.contact.phone.clone());
        active.contact_email = Set(municipality.contact.email.clone());
        active.updated_at = Set(municipality.updated_at);
        active.update(&txn).await?;
        self.commit_audited(
            txn,
            AuditEntry::success(
                actor,
                Action::MunicipalityUpdate,
                Some(*lg_code),
                lg_code.to_string(),
            ),
        )
        .await?;
        Ok(Some(municipality))
    }
}
