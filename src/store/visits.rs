//! Rows of `visits`. The household is one JSON document; every write appends its audit event
//! in the same transaction, and a change names the revision it was made on.

use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::entities::application as app;
use super::entities::visit::{ActiveModel, Column, Entity, Model};
use super::{Page, Store, StoreError};
use crate::audit::{Action, Actor, AuditEntry};
use crate::link::outbox::NewDelivery;
use crate::tenancy::LgCode;
use crate::visits::confirmation::{Application, ApplicationState, Confirmation};
use crate::visits::{Barred, Household, Status, Step, Visit};

fn to_domain(row: Model) -> Result<Visit, StoreError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("visits.{what} of {}: {e}", row.id))
    };
    Ok(Visit {
        id: Uuid::parse_str(&row.id).map_err(|e| corrupt("id", &e))?,
        lg_code: LgCode::parse(&row.lg_code).map_err(|e| corrupt("lg_code", &e))?,
        status: Status::parse(&row.status).ok_or_else(|| corrupt("status", &row.status))?,
        ticket: row.ticket.clone(),
        catalog_version: row.catalog_version.clone(),
        household: serde_json::from_str::<Household>(&row.household)
            .map_err(|e| corrupt("household", &e))?,
        opened_at: row.opened_at,
        opened_on: NaiveDate::parse_from_str(&row.opened_on, "%Y-%m-%d")
            .map_err(|e| corrupt("opened_on", &e))?,
        closed_at: row.closed_at,
        updated_at: row.updated_at,
        opened_by_client: row.opened_by_client.clone(),
        opened_by_staff: row.opened_by_staff.clone(),
        counter: row.counter.clone(),
        revision: row.revision,
    })
}

fn household_json(household: &Household) -> Result<String, StoreError> {
    serde_json::to_string(household).map_err(|e| StoreError::Corrupt(format!("household: {e}")))
}

/// Why a change was not made.
#[derive(Debug)]
pub enum VisitChange {
    Done(Visit),
    NotFound,
    /// The visit in its present stage does not allow the step ([`Visit::check`]).
    Barred(Barred),
    /// The change was refused; nothing was written.
    Refused(Vec<crate::validation::FieldError>),
    /// The caller changed a revision of the visit that is no longer the current one (its
    /// If-Match): nothing was written. The visit as it is now.
    Stale(Visit),
}

/// What submitting a visit did.
#[derive(Debug)]
pub enum Submission {
    Done(Vec<Application>),
    NotFound,
    /// Closed or not confirmed yet ([`Visit::check`]).
    Barred(Barred),
    /// Submitted already: its applications.
    AlreadySubmitted(Vec<Application>),
}

fn application_row(lg_code: &LgCode, a: &Application) -> Result<app::ActiveModel, StoreError> {
    Ok(app::ActiveModel {
        id: Set(a.id.to_string()),
        visit_id: Set(a.visit_id.to_string()),
        lg_code: Set(lg_code.to_string()),
        procedure_id: Set(a.procedure_id.clone()),
        area: Set(a.area.clone()),
        member: Set(a.member.clone()),
        form: Set(a.form.clone()),
        document: Set(a
            .document
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?),
        state: Set(a.state.as_str().to_owned()),
        reason: Set(a.reason.clone()),
        created_at: Set(a.created_at),
        updated_at: Set(a.updated_at),
    })
}

pub(super) fn application(row: app::Model) -> Result<Application, StoreError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("applications.{what} of {}: {e}", row.id))
    };
    Ok(Application {
        id: Uuid::parse_str(&row.id).map_err(|e| corrupt("id", &e))?,
        visit_id: Uuid::parse_str(&row.visit_id).map_err(|e| corrupt("visit_id", &e))?,
        procedure_id: row.procedure_id.clone(),
        area: row.area.clone(),
        member: row.member.clone(),
        form: row.form.clone(),
        document: row
            .document
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt("document", &e))?,
        state: ApplicationState::parse(&row.state).ok_or_else(|| corrupt("state", &row.state))?,
        reason: row.reason.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The row of a visit of the municipality, read in the transaction — when `actor` may see
/// it. A visit belongs to the counter app (client) that opened it: another vendor's app in the
/// same municipality neither reads nor changes it (it is told there is no such visit). An
/// actor without a client (the gateway itself) sees every visit.
async fn find_row(
    txn: &sea_orm::DatabaseTransaction,
    lg_code: &LgCode,
    id: Uuid,
    actor: &Actor,
) -> Result<Option<Model>, StoreError> {
    let mut query =
        Entity::find_by_id(id.to_string()).filter(Column::LgCode.eq(lg_code.to_string()));
    if let Some(client) = &actor.client_id {
        query = query.filter(Column::OpenedByClient.eq(client.clone()));
    }
    Ok(query.one(txn).await?)
}

/// Writes a changed visit over the row read in the same transaction, with the next revision.
/// Only over the revision read: a change made meanwhile through another replica is never
/// overwritten (the caller gets `Conflict` and retries on the new state).
async fn write_over(
    txn: &sea_orm::DatabaseTransaction,
    row: Model,
    visit: &mut Visit,
    read_revision: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    visit.updated_at = now;
    visit.revision = read_revision + 1;
    let id = row.id.clone();
    let mut active = row.into_active_model();
    active.status = Set(visit.status.as_str().to_owned());
    active.household = Set(household_json(&visit.household)?);
    active.closed_at = Set(visit.closed_at);
    active.updated_at = Set(visit.updated_at);
    active.revision = Set(visit.revision);
    let updated = Entity::update_many()
        .set(active)
        .filter(Column::Id.eq(id))
        .filter(Column::Revision.eq(read_revision))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

impl Store {
    pub async fn create_visit(&self, visit: &Visit, actor: &Actor) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        ActiveModel {
            id: Set(visit.id.to_string()),
            lg_code: Set(visit.lg_code.to_string()),
            status: Set(visit.status.as_str().to_owned()),
            ticket: Set(visit.ticket.clone()),
            catalog_version: Set(visit.catalog_version.clone()),
            household: Set(household_json(&visit.household)?),
            opened_at: Set(visit.opened_at),
            opened_on: Set(visit.opened_on.to_string()),
            closed_at: Set(visit.closed_at),
            updated_at: Set(visit.updated_at),
            opened_by_client: Set(visit.opened_by_client.clone()),
            opened_by_staff: Set(visit.opened_by_staff.clone()),
            counter: Set(visit.counter.clone()),
            revision: Set(visit.revision),
        }
        .insert(&txn)
        .await
        .map_err(StoreError::classify)?;
        self.commit_audited(
            txn,
            AuditEntry::success(
                actor,
                Action::VisitCreate,
                Some(visit.lg_code),
                visit.id.to_string(),
            ),
        )
        .await?;
        Ok(())
    }

    /// A visit of the municipality, and an audit event for the read.
    pub async fn read_visit(
        &self,
        lg_code: &LgCode,
        id: Uuid,
        actor: &Actor,
    ) -> Result<Option<Visit>, StoreError> {
        self.read_visit_for(lg_code, id, actor, Action::VisitRead)
            .await
    }

    /// Reads a visit and records why (`visit.read`, `visit.print`) in the same transaction.
    pub async fn read_visit_for(
        &self,
        lg_code: &LgCode,
        id: Uuid,
        actor: &Actor,
        action: Action,
    ) -> Result<Option<Visit>, StoreError> {
        let txn = self.begin_write().await?;
        let Some(row) = find_row(&txn, lg_code, id, actor).await? else {
            return Ok(None);
        };
        self.commit_audited(
            txn,
            AuditEntry::success(actor, action, Some(*lg_code), id.to_string()),
        )
        .await?;
        to_domain(row).map(Some)
    }

    /// The visits opened on `day` (in Japan), oldest first, after the visit `after`.
    pub async fn list_visits(
        &self,
        lg_code: &LgCode,
        day: NaiveDate,
        after: Option<Uuid>,
        limit: u64,
        actor: &Actor,
    ) -> Result<Page<Visit>, StoreError> {
        let txn = self.begin_write().await?;
        let mut query = Entity::find()
            .filter(Column::LgCode.eq(lg_code.to_string()))
            .filter(Column::OpenedOn.eq(day.to_string()))
            .order_by_asc(Column::Id);
        if let Some(client) = &actor.client_id {
            query = query.filter(Column::OpenedByClient.eq(client.clone()));
        }
        if let Some(after) = after {
            query = query.filter(Column::Id.gt(after.to_string()));
        }
        let rows = query.limit(limit + 1).all(&txn).await?;
        self.commit_audited(
            txn,
            AuditEntry::success(actor, Action::VisitList, Some(*lg_code), day.to_string()),
        )
        .await?;
        Page::of(rows, limit, |r| r.id.clone(), to_domain)
    }

    /// Applies `change` to a visit that allows `step` and records the step, in one
    /// transaction. With `expected`, only to one of those revisions of it
    /// ([`VisitChange::Stale`] otherwise), so that a clerk's change is never made over
    /// another's they have not seen.
    pub async fn change_visit(
        &self,
        lg_code: &LgCode,
        id: Uuid,
        step: Step,
        actor: &Actor,
        expected: Option<&[i64]>,
        change: impl FnOnce(&mut Visit) -> Result<(), Vec<crate::validation::FieldError>>,
    ) -> Result<VisitChange, StoreError> {
        let txn = self.begin_write().await?;
        let Some(row) = find_row(&txn, lg_code, id, actor).await? else {
            return Ok(VisitChange::NotFound);
        };
        let mut visit = to_domain(row.clone())?;
        if let Err(barred) = visit.check(step) {
            return Ok(VisitChange::Barred(barred));
        }
        if expected.is_some_and(|e| !e.contains(&visit.revision)) {
            return Ok(VisitChange::Stale(visit));
        }
        let read_revision = visit.revision;
        if let Err(errors) = change(&mut visit) {
            // Dropping the transaction rolls it back: no write, no audit event.
            return Ok(VisitChange::Refused(errors));
        }
        write_over(&txn, row, &mut visit, read_revision, crate::clock::now()).await?;
        self.commit_audited(
            txn,
            AuditEntry::success(actor, step.audited_as(), Some(*lg_code), id.to_string()),
        )
        .await?;
        Ok(VisitChange::Done(visit))
    }

    /// Submits a confirmed visit: writes the applications and deliveries `submission` makes of
    /// it (see [`crate::link::outbox::submission`]), in one transaction with the visit's
    /// change and the audit event: either everything is written or nothing.
    pub async fn submit_visit(
        &self,
        lg_code: &LgCode,
        id: Uuid,
        actor: &Actor,
        now: chrono::DateTime<chrono::Utc>,
        submission: impl FnOnce(&Visit, &Confirmation) -> (Vec<Application>, Vec<NewDelivery>),
    ) -> Result<Submission, StoreError> {
        let txn = self.begin_write().await?;
        let Some(row) = find_row(&txn, lg_code, id, actor).await? else {
            return Ok(Submission::NotFound);
        };
        let mut visit = to_domain(row.clone())?;
        match visit.check(Step::Submit) {
            Err(Barred::Submitted) => {
                drop(txn);
                return Ok(Submission::AlreadySubmitted(self.applications(id).await?));
            }
            Err(barred) => return Ok(Submission::Barred(barred)),
            Ok(()) => {}
        }
        let Some(confirmation) = &visit.household.confirmation else {
            return Ok(Submission::Barred(Barred::NotConfirmed));
        };
        let (applications, deliveries) = submission(&visit, confirmation);
        for a in &applications {
            application_row(lg_code, a)?.insert(&txn).await?;
        }
        let rows = super::deliveries::delivery_rows(lg_code, &deliveries, now);
        if !rows.is_empty() {
            super::entities::delivery::Entity::insert_many(rows)
                .exec(&txn)
                .await?;
        }
        let read_revision = visit.revision;
        visit.household.submitted_at = Some(now);
        write_over(&txn, row, &mut visit, read_revision, now).await?;
        self.commit_audited(
            txn,
            AuditEntry::success(
                actor,
                Step::Submit.audited_as(),
                Some(*lg_code),
                id.to_string(),
            ),
        )
        .await?;
        Ok(Submission::Done(applications))
    }

    /// The applications of a visit, oldest first.
    pub async fn applications(&self, visit: Uuid) -> Result<Vec<Application>, StoreError> {
        app::Entity::find()
            .filter(app::Column::VisitId.eq(visit.to_string()))
            .order_by_asc(app::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(application)
            .collect()
    }

    /// Every visit of the municipality opened on `day`, for the day's KPIs (which hold no
    /// personal data, so this read is not an audit event).
    pub async fn visits_on(
        &self,
        lg_code: &LgCode,
        day: NaiveDate,
    ) -> Result<Vec<Visit>, StoreError> {
        Entity::find()
            .filter(Column::LgCode.eq(lg_code.to_string()))
            .filter(Column::OpenedOn.eq(day.to_string()))
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }
}
