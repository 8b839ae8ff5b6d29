//! Storage: sea-orm entities and the repository functions that turn domain types into rows
//! and back. No SQL outside this module.

mod audit;
mod card_sessions;
mod catalog_overrides;
pub use catalog_overrides::StoredOverrides;
mod clients;
mod conformance;
mod deliveries;
pub use deliveries::{Claimed, Finish, Replay, Resend};
mod devices;
pub use devices::Enrolment;
pub mod entities;
mod idempotency;
mod keys;
mod link;
pub use link::Acknowledged;
mod municipalities;
mod residents;
pub use residents::{DirectoryWriter, INSERT_BATCH, ResidentQuery};
mod staff;
mod visits;
pub use visits::{Submission, VisitChange};
mod webhooks;
pub use webhooks::WebhookTarget;

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqlErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

pub use audit::AuditPage;

/// What went wrong in storage. Callers turn `Conflict` and `NotFound` into their own
/// domain errors; `Database` is an internal error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a row with the same key exists already")]
    Conflict,
    #[error("a referenced row does not exist")]
    MissingReference,
    #[error("municipalities not registered: {0:?}")]
    UnknownMunicipalities(Vec<crate::tenancy::LgCode>),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// Stored data is encrypted and the key to it is missing or wrong.
    #[error("{0}")]
    Locked(String),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl StoreError {
    /// Sorts constraint violations out of other database errors.
    fn classify(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict,
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::MissingReference,
            _ => StoreError::Database(e),
        }
    }
}

/// One page of a cursor-paginated list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The key of the last item when more items follow.
    pub next_after: Option<String>,
}

impl<T> Page<T> {
    /// The page of `limit` items read from `rows` (fetched with `limit + 1`: the extra row
    /// only says that another page follows), each made by `item`, continuing after the key
    /// `key` gives of its last row.
    fn of<R>(
        rows: Vec<R>,
        limit: u64,
        key: impl Fn(&R) -> String,
        item: impl Fn(R) -> Result<T, StoreError>,
    ) -> Result<Self, StoreError> {
        let (rows, last) = split_page(rows, limit);
        let next_after = last.map(|i| key(&rows[i]));
        Ok(Page {
            items: rows.into_iter().map(item).collect::<Result<_, _>>()?,
            next_after,
        })
    }
}

/// Lists fetch `limit + 1` rows: the extra one only says that another page follows.
/// Returns the rows of this page and the row the next page continues after.
fn split_page<T>(mut rows: Vec<T>, limit: u64) -> (Vec<T>, Option<usize>) {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let last = (more && !rows.is_empty()).then(|| rows.len() - 1);
    (rows, last)
}

/// The database handle every part of the gateway shares.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Connects to `sqlite://…` or `postgres://…`. SQLite runs in WAL mode with foreign keys
    /// on, so readers never wait for the writer.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
            });
        let db = Database::connect(options).await?;
        Ok(Self { db })
    }

    pub fn backend(&self) -> &'static str {
        match self.db.get_database_backend() {
            DbBackend::Postgres => "postgresql",
            DbBackend::Sqlite => "sqlite",
            _ => "other",
        }
    }

    /// Applies pending migrations; returns their names.
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let pending = self.pending_migrations().await?;
        Migrator::up(&self.db, None).await?;
        Ok(pending)
    }

    /// Migrations not yet applied; reads only (readiness probes call it).
    pub async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        Ok(Migrator::get_pending_migrations_read_only(&self.db)
            .await?
            .iter()
            .map(|m| m.name().to_owned())
            .collect())
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(StoreError::from)
    }

    /// A transaction that will write: on SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that reading first and writing later cannot fail with
    /// SQLITE_BUSY.
    async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        let options = TransactionOptions {
            isolation_level: None,
            access_mode: None,
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        };
        Ok(self.db.begin_with_options(options).await?)
    }

    /// Direct access for integration tests that tamper with rows on purpose.
    #[doc(hidden)]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}
