//! The core-system link (DESIGN §2 steps 2 and 8): the resident directory kept current from the
//! 住民記録 system's full and differential files, and the lookups a clerk makes in it; the
//! outbox that takes every application to its core system, and the connectors that do it.

pub mod connectors;
pub mod delivery;
pub mod egress;
pub mod import;
pub mod jobs;
pub mod outbox;
pub mod sample;
pub mod webhooks;
