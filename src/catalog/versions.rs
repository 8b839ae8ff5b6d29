//! Which catalogue a municipality's visit is decided with: the built-in one with the
//! municipality's overrides of a given version. Versions never change once stored, so each
//! replica caches the catalogues it has built for as long as it likes.

use std::sync::Arc;

use super::Catalog;
use super::overrides::{OverrideError, Overrides};
use crate::audit::Actor;
use crate::forms::FormRegistry;
use crate::store::{Store, StoreError};
use crate::tenancy::LgCode;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the overrides are not valid")]
    Invalid(Vec<OverrideError>),
    /// A stored version that no longer applies (a release removed a procedure it changes).
    #[error("catalogue version {version} of {lg_code} cannot be built: {problem}")]
    Unusable {
        lg_code: LgCode,
        version: i64,
        problem: String,
    },
}

#[derive(Clone)]
pub struct Catalogs {
    pub base: Arc<Catalog>,
    forms: Arc<FormRegistry>,
    store: Store,
    cache: moka::future::Cache<(LgCode, i64), Arc<Catalog>>,
}

impl Catalogs {
    pub fn new(base: Arc<Catalog>, forms: Arc<FormRegistry>, store: Store) -> Self {
        Self {
            base,
            forms,
            store,
            cache: moka::future::Cache::new(1_000),
        }
    }

    /// `<digest of the built-in catalogue>.<override version>` (0: no overrides).
    pub fn label(&self, version: i64) -> String {
        format!("{}.{version}", self.base.digest)
    }

    /// The override version of a label.
    pub fn version_of(label: &str) -> i64 {
        label
            .rsplit_once('.')
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    }

    /// The municipality's newest catalogue and its version.
    pub async fn current(&self, lg_code: &LgCode) -> Result<(i64, Arc<Catalog>), CatalogError> {
        match self.store.catalog_overrides(lg_code, None).await? {
            None => Ok((0, self.base.clone())),
            Some(stored) => {
                let catalog = self.version(lg_code, stored.version).await?;
                Ok((stored.version, catalog))
            }
        }
    }

    /// A given version of the municipality's catalogue.
    pub async fn version(
        &self,
        lg_code: &LgCode,
        version: i64,
    ) -> Result<Arc<Catalog>, CatalogError> {
        if version == 0 {
            return Ok(self.base.clone());
        }
        if let Some(hit) = self.cache.get(&(*lg_code, version)).await {
            return Ok(hit);
        }
        let unusable = |problem: String| CatalogError::Unusable {
            lg_code: *lg_code,
            version,
            problem,
        };
        let stored = self
            .store
            .catalog_overrides(lg_code, Some(version))
            .await?
            .ok_or_else(|| unusable("the version is not stored".to_owned()))?;
        let overrides: Overrides =
            serde_json::from_str(&stored.document).map_err(|e| unusable(e.to_string()))?;
        let catalog = self
            .base
            .with_overrides(&overrides, &self.forms)
            .map_err(|errors| {
                unusable(
                    errors
                        .iter()
                        .map(|e| format!("{}: {}", e.pointer, e.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })?;
        let catalog = Arc::new(catalog);
        self.cache
            .insert((*lg_code, version), catalog.clone())
            .await;
        Ok(catalog)
    }

    /// Checks and stores a new version of the municipality's overrides (audited).
    pub async fn save(
        &self,
        lg_code: &LgCode,
        overrides: &Overrides,
        actor: &Actor,
    ) -> Result<(i64, Arc<Catalog>), CatalogError> {
        let catalog = self
            .base
            .with_overrides(overrides, &self.forms)
            .map_err(CatalogError::Invalid)?;
        let document = serde_json::to_string(overrides)
            .map_err(|e| CatalogError::Store(StoreError::Corrupt(e.to_string())))?;
        let stored = self
            .store
            .save_catalog_overrides(lg_code, document, actor)
            .await?;
        let catalog = Arc::new(catalog);
        self.cache
            .insert((*lg_code, stored.version), catalog.clone())
            .await;
        Ok((stored.version, catalog))
    }
}
