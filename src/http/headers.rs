//! The request headers that mean the same on every route, as parameter types: a route names
//! them in its `params(...)` instead of describing them again. Each becomes a reference to
//! its one definition in the contract (`components/parameters`, written by
//! [`super::openapi`], with what the server enforces). What reads them is elsewhere:
//! [`super::auth::Clerk`], [`super::preconditions::IfMatch`], [`super::middleware::idempotency::Idempotent`].

use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{Required, schema::ObjectBuilder, schema::Type};

fn header(name: &str, required: Required) -> Vec<Parameter> {
    vec![
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(required)
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build(),
    ]
}

/// `Madoguchi-Actor`, required: the staff id of the clerk acting.
pub struct StaffHeader;

impl IntoParams for StaffHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        header("Madoguchi-Actor", Required::True)
    }
}

/// `Madoguchi-Actor`, optional: the staff id recorded in the audit log when given.
pub struct ActorHeader;

impl IntoParams for ActorHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        header("Madoguchi-Actor", Required::False)
    }
}

/// `If-Match`: the visit's revision as the app last read it.
pub struct IfMatchHeader;

impl IntoParams for IfMatchHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        header("If-Match", Required::False)
    }
}

/// `Idempotency-Key`: a retry returns the first response.
pub struct IdempotencyKeyHeader;

impl IntoParams for IdempotencyKeyHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        header("Idempotency-Key", Required::False)
    }
}
