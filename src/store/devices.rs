//! Rows of `device_authority` (the device CA, shared by every replica) and `devices` (counter
//! PCs: registered with a one-time code, enrolled with a certificate, revoked).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::entities::device::{ActiveModel, Column, Entity, Model};
use super::entities::device_authority as authority;
use super::{Page, Store, StoreError};
use crate::audit::{Action, Actor, AuditEntry};
use crate::auth::{open_stored, seal_for_storage};
use crate::devices::Device;
use crate::devices::authority::DeviceAuthority;
use crate::secrets::ServerKey;
use crate::tenancy::LgCode;

/// The one row of `device_authority`, and the additional data its key is sealed with.
const AUTHORITY_ID: &str = "device-ca";

fn to_domain(row: Model) -> Result<Device, StoreError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("devices.{what} of {}: {e}", row.id))
    };
    Ok(Device {
        id: Uuid::parse_str(&row.id).map_err(|e| corrupt("id", &e))?,
        lg_code: LgCode::parse(&row.lg_code).map_err(|e| corrupt("lg_code", &e))?,
        counter_name: row.counter_name,
        created_at: row.created_at,
        enrolled_at: row.enrolled_at,
        revoked_at: row.revoked_at,
        enrolment_expires_at: row.enrolment_expires_at,
        last_seen_at: row.last_seen_at,
    })
}

/// What an enrolment with a code found.
#[derive(Debug)]
pub enum Enrolment {
    Done(Device),
    /// No device waits for this code (never issued, used, expired or revoked).
    UnknownCode,
}

impl Store {
    /// The device CA, generated and stored on first use. Replicas that start at once may
    /// each try to store one; the first stored wins and all use it.
    pub async fn device_authority(
        &self,
        server_key: Option<&ServerKey>,
    ) -> Result<DeviceAuthority, StoreError> {
        let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("device CA: {e}"));
        if let Some(row) = authority::Entity::find_by_id(AUTHORITY_ID)
            .one(&self.db)
            .await?
        {
            let (pkcs8, _) = open_stored(&row.private_key_der, AUTHORITY_ID, server_key)
                .map_err(|e| StoreError::Locked(format!("device CA: {e}")))?;
            return DeviceAuthority::from_parts(row.certificate_der, &pkcs8)
                .map_err(|e| corrupt(&e));
        }
        let (ca, pkcs8) = DeviceAuthority::generate().map_err(|e| corrupt(&e))?;
        let sealed = seal_for_storage(&pkcs8, AUTHORITY_ID, server_key).map_err(|e| corrupt(&e))?;
        let inserted = authority::ActiveModel {
            id: Set(AUTHORITY_ID.to_owned()),
            certificate_der: Set(ca.certificate_der().to_vec()),
            private_key_der: Set(sealed),
            created_at: Set(crate::clock::now()),
        }
        .insert(&self.db)
        .await;
        match inserted.map_err(StoreError::classify) {
            Ok(_) => {
                tracing::info!(
                    encrypted = server_key.is_some(),
                    "generated the device CA for counter PCs"
                );
                Ok(ca)
            }
            Err(StoreError::Conflict) => Box::pin(self.device_authority(server_key)).await,
            Err(e) => Err(e),
        }
    }

    /// Registers a counter PC waiting for its bridge to enrol with the code whose hash is
    /// given.
    pub async fn create_device(
        &self,
        lg_code: &LgCode,
        counter_name: &str,
        code_hash: &str,
        expires_at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<Device, StoreError> {
        let txn = self.begin_write().await?;
        let id = Uuid::now_v7();
        let row = ActiveModel {
            id: Set(id.to_string()),
            lg_code: Set(lg_code.to_string()),
            counter_name: Set(counter_name.to_owned()),
            enrolment_code_hash: Set(Some(code_hash.to_owned())),
            enrolment_expires_at: Set(Some(expires_at)),
            certificate_sha256: Set(None),
            created_at: Set(crate::clock::now()),
            enrolled_at: Set(None),
            revoked_at: Set(None),
            last_seen_at: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(StoreError::classify)?;
        self.commit_audited(
            txn,
            AuditEntry::success(actor, Action::DeviceCreate, Some(*lg_code), id.to_string()),
        )
        .await?;
        to_domain(row)
    }

    /// The device waiting for this code, if the code is still good.
    pub async fn device_for_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Device>, StoreError> {
        let row = Entity::find()
            .filter(Column::EnrolmentCodeHash.eq(code_hash))
            .filter(Column::EnrolledAt.is_null())
            .filter(Column::RevokedAt.is_null())
            .filter(Column::EnrolmentExpiresAt.gt(now))
            .one(&self.db)
            .await?;
        row.map(to_domain).transpose()
    }

    /// Completes an enrolment: the code is spent, the certificate recorded. Only one of two
    /// bridges racing with the same code gets it.
    pub async fn complete_enrolment(
        &self,
        device: &Device,
        code_hash: &str,
        certificate_sha256: &str,
    ) -> Result<Enrolment, StoreError> {
        let txn = self.begin_write().await?;
        let now = crate::clock::now();
        let done = Entity::update_many()
            .col_expr(
                Column::EnrolmentCodeHash,
                Expr::value(Option::<String>::None),
            )
            .col_expr(Column::CertificateSha256, Expr::value(certificate_sha256))
            .col_expr(Column::EnrolledAt, Expr::value(now))
            .filter(Column::Id.eq(device.id.to_string()))
            .filter(Column::EnrolmentCodeHash.eq(code_hash))
            .filter(Column::EnrolledAt.is_null())
            .filter(Column::RevokedAt.is_null())
            .filter(Column::EnrolmentExpiresAt.gt(now))
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Ok(Enrolment::UnknownCode);
        }
        let actor = Actor {
            client_id: Some(format!("device:{}", device.id)),
            ..Actor::default()
        };
        self.commit_audited(
            txn,
            AuditEntry::success(
                &actor,
                Action::DeviceEnrol,
                Some(device.lg_code),
                device.id.to_string(),
            ),
        )
        .await?;
        let row = Entity::find_by_id(device.id.to_string())
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("device {} vanished", device.id)))?;
        Ok(Enrolment::Done(to_domain(row)?))
    }

    pub async fn device(&self, id: Uuid) -> Result<Option<Device>, StoreError> {
        Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .map(to_domain)
            .transpose()
    }

    /// The enrolled, unrevoked device holding this certificate.
    pub async fn device_by_certificate(
        &self,
        certificate_sha256: &str,
    ) -> Result<Option<Device>, StoreError> {
        Entity::find()
            .filter(Column::CertificateSha256.eq(certificate_sha256))
            .filter(Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
            .map(to_domain)
            .transpose()
    }

    /// Devices in id order (registration order), optionally of one municipality.
    pub async fn list_devices(
        &self,
        lg_code: Option<&LgCode>,
        limit: u64,
        after: Option<Uuid>,
    ) -> Result<Page<Device>, StoreError> {
        let mut query = Entity::find().order_by_asc(Column::Id);
        if let Some(code) = lg_code {
            query = query.filter(Column::LgCode.eq(code.to_string()));
        }
        if let Some(after) = after {
            query = query.filter(Column::Id.gt(after.to_string()));
        }
        let rows = query.limit(limit + 1).all(&self.db).await?;
        Page::of(rows, limit, |r| r.id.clone(), to_domain)
    }

    /// Revokes a device: its certificate is refused from now on. `None`: no such device.
    pub async fn revoke_device(
        &self,
        id: Uuid,
        actor: &Actor,
    ) -> Result<Option<Device>, StoreError> {
        let txn = self.begin_write().await?;
        let Some(row) = Entity::find_by_id(id.to_string()).one(&txn).await? else {
            return Ok(None);
        };
        let row = if row.revoked_at.is_none() {
            let code = LgCode::parse(&row.lg_code).ok();
            let mut active = row.into_active_model();
            active.revoked_at = Set(Some(crate::clock::now()));
            active.enrolment_code_hash = Set(None);
            let row = active.update(&txn).await?;
            self.append_audit(
                &txn,
                AuditEntry::success(actor, Action::DeviceRevoke, code, id.to_string()),
            )
            .await?;
            row
        } else {
            row
        };
        txn.commit().await?;
        to_domain(row).map(Some)
    }

    /// Records that the device's bridge is connected now.
    pub async fn device_seen(&self, id: Uuid) -> Result<(), StoreError> {
        Entity::update_many()
            .col_expr(Column::LastSeenAt, Expr::value(crate::clock::now()))
            .filter(Column::Id.eq(id.to_string()))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
