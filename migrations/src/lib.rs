//! Database migrations for madoguchi (sea-orm-migration).
//!
//! Migrations run at start-up (`madoguchi serve`, unless disabled) or on their own with
//! `madoguchi migrate` (the Kubernetes migration Job). Every migration must work on SQLite and
//! on PostgreSQL; foreign keys are declared at table creation because SQLite cannot add them
//! later.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_foundation;
mod m20261122_000002_idempotency;
mod m20261203_000003_hardening;
mod m20261203_000004_visits;
mod m20261203_000005_devices;
mod m20261203_000006_residents;
mod m20261203_000007_application_outcomes;
mod m20261203_000008_deliveries;
mod m20261203_000009_webhooks;
mod m20261206_000010_client_trust;
mod m20261206_000011_webhook_rotation;
mod m20261207_000012_conformance_sessions;
mod m20261207_000013_staff;
mod m20261207_000014_visit_counter;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_foundation::Migration),
            Box::new(m20261122_000002_idempotency::Migration),
            Box::new(m20261203_000003_hardening::Migration),
            Box::new(m20261203_000004_visits::Migration),
            Box::new(m20261203_000005_devices::Migration),
            Box::new(m20261203_000006_residents::Migration),
            Box::new(m20261203_000007_application_outcomes::Migration),
            Box::new(m20261203_000008_deliveries::Migration),
            Box::new(m20261203_000009_webhooks::Migration),
            Box::new(m20261206_000010_client_trust::Migration),
            Box::new(m20261206_000011_webhook_rotation::Migration),
            Box::new(m20261207_000012_conformance_sessions::Migration),
            Box::new(m20261207_000013_staff::Migration),
            Box::new(m20261207_000014_visit_counter::Migration),
        ]
    }
}
