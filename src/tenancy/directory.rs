//! Reading municipalities with a short per-replica cache: every request of a municipality's
//! counter needs its record, and it changes a few times a year.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use super::{LgCode, Municipality};
use crate::store::{Store, StoreError};

/// Municipality records, cached for `ttl` in this replica. A change made through this replica
/// is visible at once; one made through another replica within `ttl`.
pub struct Directory {
    store: Store,
    cache: Option<Cache<LgCode, Arc<Municipality>>>,
}

impl Directory {
    /// `ttl` zero turns the cache off.
    pub fn new(store: Store, ttl: Duration) -> Self {
        let cache = (!ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build()
        });
        Self { store, cache }
    }

    pub async fn municipality(
        &self,
        code: &LgCode,
    ) -> Result<Option<Arc<Municipality>>, StoreError> {
        if let Some(cache) = &self.cache
            && let Some(found) = cache.get(code).await
        {
            return Ok(Some(found));
        }
        let Some(found) = self.store.municipality(code).await? else {
            return Ok(None);
        };
        let found = Arc::new(found);
        if let Some(cache) = &self.cache {
            cache.insert(*code, found.clone()).await;
        }
        Ok(Some(found))
    }

    /// Drops a record after it changed.
    pub async fn forget(&self, code: &LgCode) {
        if let Some(cache) = &self.cache {
            cache.invalidate(code).await;
        }
    }
}
