//! Applications as a core system pulls them: a municipality's applications of one business
//! area in the order they were made, and the core system's answer recorded with its audit
//! event in one transaction.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::entities::application::{self as app, Column, Entity};
use super::visits::application;
use super::{Page, Store, StoreError};
use crate::audit::{Action, Actor, AuditEntry};
use crate::tenancy::LgCode;
use crate::visits::confirmation::{Acknowledgement, Application, ApplicationState};

/// What came of a core system's answer.
#[derive(Debug)]
pub enum Acknowledged {
    NotFound,
    Done(Box<Application>),
    /// The application is past that answer (its state).
    Past(ApplicationState),
}

impl Store {
    /// The municipality's applications of `area` after `after` (an application id), oldest
    /// first.
    pub async fn area_applications(
        &self,
        lg_code: &LgCode,
        area: &str,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Page<Application>, StoreError> {
        let mut query = Entity::find()
            .filter(Column::LgCode.eq(lg_code.to_string()))
            .filter(Column::Area.eq(area));
        if let Some(after) = after {
            query = query.filter(Column::Id.gt(after.to_string()));
        }
        let rows = query
            .order_by_asc(Column::Id)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        Page::of(rows, limit, |r| r.id.clone(), application)
    }

    /// Records a core system's answer about an application of `area`.
    pub async fn acknowledge_application(
        &self,
        lg_code: &LgCode,
        area: &str,
        id: Uuid,
        ack: Acknowledgement,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<Acknowledged, StoreError> {
        let txn = self.begin_write().await?;
        let done = self
            .acknowledge_in(&txn, lg_code, area, id, ack, reason, actor)
            .await?;
        if matches!(done, Acknowledged::Done(_)) {
            txn.commit().await?;
        }
        Ok(done)
    }

    /// The answer recorded inside `txn` (with its audit event, when it changes anything).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn acknowledge_in(
        &self,
        txn: &DatabaseTransaction,
        lg_code: &LgCode,
        area: &str,
        id: Uuid,
        ack: Acknowledgement,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<Acknowledged, StoreError> {
        let Some(row) = Entity::find_by_id(id.to_string())
            .filter(Column::LgCode.eq(lg_code.to_string()))
            .filter(Column::Area.eq(area))
            .one(txn)
            .await?
        else {
            return Ok(Acknowledged::NotFound);
        };
        let current = application(row.clone())?;
        let Some(next) = current.state.after(ack) else {
            return Ok(Acknowledged::Past(current.state));
        };
        if next == current.state {
            // The core system repeated itself: nothing changes.
            return Ok(Acknowledged::Done(Box::new(current)));
        }
        let now = crate::clock::now();
        let mut active: app::ActiveModel = row.into();
        active.state = Set(next.as_str().to_owned());
        active.reason = Set(if ack == Acknowledgement::Rejected {
            reason
        } else {
            None
        });
        active.updated_at = Set(now);
        let updated = active.update(txn).await?;
        self.append_audit(
            txn,
            AuditEntry::success(
                actor,
                Action::ApplicationAcknowledge,
                Some(*lg_code),
                format!("application:{id} area:{area} state:{}", next.as_str()),
            ),
        )
        .await?;
        let updated = application(updated)?;
        self.enqueue_application_events(
            txn,
            &lg_code.to_string(),
            std::slice::from_ref(&updated),
            now,
        )
        .await?;
        Ok(Acknowledged::Done(Box::new(updated)))
    }
}
