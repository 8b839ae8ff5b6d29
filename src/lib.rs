//! madoguchi: the gateway between vendors' counter apps and a municipality's standardized
//! core systems for the 書かないワンストップ窓口 (no-writing one-stop counter).

#[cfg(test)]
mod architecture;
pub mod audit;
pub mod auth;
pub mod bridge;
pub mod card;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod conformance;
pub mod conformance_sessions;
pub mod console;
pub mod datadir;
pub mod devices;
pub mod field_codes;
pub mod forms;
pub mod http;
pub mod i18n;
pub mod idempotency;
pub mod kpi;
pub mod layouts;
pub mod link;
pub mod maintenance;
pub mod print;
pub mod queue;
pub mod residents;
pub mod secrets;
pub mod staff;
pub mod startup;
pub mod store;
pub mod tenancy;
pub mod tls;
pub mod validation;
pub mod visits;

pub use startup::{Application, DemoCredentials, StartupError};
