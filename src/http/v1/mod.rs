//! The resources under `/v1`, one module per resource (a folder for one with many use
//! cases). A handler reads the request, calls the domain and the store, and answers.

pub(crate) mod admin;
pub(crate) mod audit;
pub(crate) mod card_sessions;
pub(crate) mod catalog;
pub(crate) mod conformance;
pub(crate) mod deliveries;
pub(crate) mod devices;
pub(crate) mod directory_imports;
pub mod forms;
pub(crate) mod kpis;
pub(crate) mod link;
pub(crate) mod municipalities;
pub(crate) mod printouts;
pub(crate) mod residents;
pub(crate) mod staff;
pub(crate) mod visits;
pub(crate) mod webhooks;
