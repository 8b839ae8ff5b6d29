//! sea-orm entities: one per table, nothing but the row shape.

pub mod application;
pub mod audit_checkpoint;
pub mod audit_denial;
pub mod audit_event;
pub mod card_session;
pub mod catalog_override;
pub mod client;
pub mod client_address;
pub mod client_municipality;
pub mod conformance_fault;
pub mod conformance_key;
pub mod conformance_request;
pub mod conformance_session;
pub mod console_session;
pub mod delivery;
pub mod device;
pub mod device_authority;
pub mod directory_import;
pub mod idempotency_record;
pub mod municipality;
pub mod resident;
pub mod signing_key;
pub mod staff_account;
pub mod visit;
pub mod webhook_endpoint;
