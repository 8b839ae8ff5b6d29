//! Which clients belong to an open session, as the recorder asks on every request: cached per
//! replica for a few seconds (a session opened on another replica is seen within that time),
//! with a cheaper first question — is any session open at all? — so that a gateway nobody
//! tests pays one cache read per request.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use super::Session;
use super::script::Script;
use crate::store::Store;

const FRESH_FOR: Duration = Duration::from_secs(5);

pub struct SessionIndex {
    store: Store,
    /// The script every session follows, checked at start-up.
    pub script: Arc<Script>,
    any_open: Cache<(), bool>,
    by_client: Cache<String, Option<Arc<Session>>>,
}

impl SessionIndex {
    pub fn new(store: Store, script: Script) -> Self {
        Self {
            store,
            script: Arc::new(script),
            any_open: Cache::builder().time_to_live(FRESH_FOR).build(),
            by_client: Cache::builder()
                .time_to_live(FRESH_FOR)
                .max_capacity(10_000)
                .build(),
        }
    }

    /// Whether any session is open. A database that cannot answer counts as none: the
    /// gateway's own work goes on, unrecorded.
    pub async fn any_open(&self) -> bool {
        let store = self.store.clone();
        self.any_open
            .get_with((), async move {
                match store
                    .open_conformance_sessions(None, crate::clock::now())
                    .await
                {
                    Ok(n) => n > 0,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not count open conformance sessions");
                        false
                    }
                }
            })
            .await
    }

    /// The open session whose client is `client_id`.
    pub async fn of_client(&self, client_id: &str) -> Option<Arc<Session>> {
        let store = self.store.clone();
        let id = client_id.to_owned();
        let found = self
            .by_client
            .get_with(id.clone(), async move {
                match store.conformance_session_of_client(&id).await {
                    Ok(s) => s.map(Arc::new),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not look a conformance session up");
                        None
                    }
                }
            })
            .await;
        found.filter(|s| s.is_open(crate::clock::now()))
    }

    /// Forgets what this replica cached about `client_id` (a session opened or closed here).
    pub async fn forget(&self, client_id: &str) {
        self.any_open.invalidate(&()).await;
        self.by_client.invalidate(client_id).await;
    }
}
