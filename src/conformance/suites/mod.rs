//! The suites of the kit, one module each.

pub mod gateway_api;
