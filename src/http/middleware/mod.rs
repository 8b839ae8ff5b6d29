//! What wraps every request before a handler sees it: the request id, the deadline, the
//! telemetry span, the idempotency store, the method check, the fallback for unknown routes
//! and the client's address behind a proxy.

pub mod client_address;
pub mod conformance;
pub mod deadline;
pub mod fallback;
pub mod idempotency;
pub mod methods;
pub mod request_id;
pub mod telemetry;
