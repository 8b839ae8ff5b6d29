//! Client authentication at the token endpoint: the failure limits first, then the client and
//! its secret, then the upgrade of a legacy secret hash.

use std::net::IpAddr;
use std::time::Duration;

use uuid::Uuid;

use super::client::Client;
use super::lockout::{KNOWN_GOOD_FOR, Lockout};
use super::secret_hash::{self, Check};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AuthenticationError {
    /// Too many failures: refused without a check; retry after this long.
    #[error("too many failed attempts; retry in {0:?}")]
    Throttled(Duration),
    /// Unknown client, wrong secret, or a revoked client: the caller is told no more.
    #[error("client authentication failed")]
    Refused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The active client that `client_id` and `secret` name, presented from `address`.
pub async fn authenticate_client(
    store: &Store,
    lockout: &Lockout,
    client_id: &str,
    secret: &str,
    address: IpAddr,
) -> Result<Client, AuthenticationError> {
    let id = Uuid::parse_str(client_id).ok();
    // Which limits apply depends on whether the client exists (a read by key, no hash): a
    // real client is held back only by failures for itself, never by someone else's from a
    // shared address.
    let record = match id {
        Some(id) => store.client_with_secret(id).await?,
        None => None,
    };
    let known = record.as_ref().map(|(c, _)| c.id);
    if let Err(wait) = lockout.check(known, address).await {
        // This replica may not know yet (after a restart) that the client authenticated from
        // this address recently: the database does.
        let recently_good = match known {
            Some(id) => store
                .last_success_from(id, address)
                .await?
                .is_some_and(|at| {
                    (chrono::Utc::now() - at).to_std().unwrap_or_default() < KNOWN_GOOD_FOR
                }),
            None => false,
        };
        if let (Some(id), true) = (known, recently_good) {
            lockout.record_success(id, address).await;
        } else {
            // Trying on while told to wait counts too: the wait grows.
            lockout.record_failure(known, address).await;
            return Err(AuthenticationError::Throttled(wait));
        }
    }
    let stored = record.as_ref().map(|(_, hash)| hash.as_str());
    let check = secret_hash::check(secret, stored).await;
    let Some((client, stored)) = record else {
        tracing::info!("token refused: unknown client");
        lockout.record_failure(None, address).await;
        return Err(AuthenticationError::Refused);
    };
    let Check::Match { rehash } = check else {
        tracing::info!(client_id = %client.id, "token refused: wrong secret");
        lockout.record_failure(Some(client.id), address).await;
        return Err(AuthenticationError::Refused);
    };
    if !client.is_active() {
        tracing::info!(client_id = %client.id, "token refused: the client is revoked");
        return Err(AuthenticationError::Refused);
    }
    if let Some(new_hash) = rehash {
        store
            .replace_secret_hash(client.id, &stored, &new_hash)
            .await?;
        tracing::info!(client_id = %client.id, "replaced the client's argon2 secret hash with SHA-256");
    }
    if lockout.record_success(client.id, address).await
        && let Err(e) = store.record_success_from(client.id, address).await
    {
        tracing::warn!(client_id = %client.id, error = %e, "could not record the address the client authenticated from; after a restart, lockout may hold it back");
    }
    Ok(client)
}
