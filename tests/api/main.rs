//! Integration tests: one binary, a real server per test on 127.0.0.1:0, real SQLite and
//! real PostgreSQL (see README for the PostgreSQL the suite needs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod abuse;
mod admin;
mod audit;
mod bridge;
mod card;
mod catalog_examples;
mod cli;
mod conformance;
mod conformance_sessions;
mod console;
mod console_browser;
mod console_browser_family;
mod console_household;
mod console_sso;
mod counter_app;
mod counter_pc;
pub(crate) mod delivery;
mod directory;
mod docs;
mod errors;
mod external_issuer;
mod forms;
mod hardening;
mod idempotency;
mod link;
mod operations;
mod pcsc;
mod printouts;
mod pull;
mod tamper;
mod tenancy;
mod throttle;
mod tls;
mod tokens;
mod two_clerks;
mod visits;
pub(crate) mod webhooks;
