//! The HTTP edge: the resources under `/v1` ([`v1`], a module per resource), what wraps every
//! request ([`middleware`]), and what they share — authorization and the clerk ([`auth`]),
//! extractors, headers, problems, pagination, preconditions — with the OpenAPI document and
//! the operations endpoints. Handlers translate HTTP to domain calls and back.

pub mod auth;
mod domain_errors;
pub mod extract;
pub mod headers;
pub mod heavy_work;
pub mod middleware;
mod oauth;
pub mod openapi;
mod openapi_visit_types;
pub mod operations;
pub mod pagination;
pub mod preconditions;
pub mod problem;
pub mod state;
pub mod v1;

pub use v1::admin::{ClientDto, CreatedClientDto};
pub use v1::municipalities::MunicipalityDto;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

/// Every documented route. The OpenAPI document is collected from exactly these services.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(operations::healthz)
        .service(operations::readyz)
        .service(operations::metrics)
        .service(operations::problem_types)
        .service(operations::problem_type)
        .service(operations::openapi_json)
        .service(oauth::token)
        .service(oauth::jwks)
        .service(
            scope::scope("/v1")
                .service(v1::municipalities::list_municipalities)
                .service(v1::municipalities::get_municipality)
                .service(v1::municipalities::patch_municipality)
                .service(v1::audit::list_audit_events)
                .service(v1::admin::create_municipality)
                .service(v1::admin::list_all_municipalities)
                .service(v1::admin::create_client)
                .service(v1::admin::list_clients)
                .service(v1::admin::get_client)
                .service(v1::admin::revoke_client)
                .service(v1::staff::create_staff)
                .service(v1::staff::list_staff)
                .service(v1::devices::create_device)
                .service(v1::devices::list_devices)
                .service(v1::devices::get_device)
                .service(v1::devices::revoke_device)
                .service(v1::devices::enrol_device)
                .service(v1::card_sessions::create_card_session)
                .service(v1::card_sessions::get_card_session)
                .service(v1::card_sessions::get_card_image)
                .service(v1::directory_imports::create_import)
                .service(v1::directory_imports::get_import)
                .service(v1::directory_imports::list_imports)
                .service(v1::residents::search_residents)
                .service(v1::residents::get_household)
                .service(v1::link::pull_applications)
                .service(v1::link::acknowledge)
                .service(v1::deliveries::list_deliveries)
                .service(v1::deliveries::get_delivery)
                .service(v1::deliveries::replay_delivery)
                .service(v1::conformance::open_session)
                .service(v1::conformance::get_session)
                .service(v1::conformance::close_session)
                .service(v1::conformance::get_report)
                .service(v1::conformance::signing_key)
                .service(v1::webhooks::create_webhook)
                .service(v1::webhooks::list_webhooks)
                .service(v1::webhooks::delete_webhook)
                .service(v1::webhooks::rotate_webhook_secret)
                .service(v1::webhooks::test_webhook)
                .service(v1::webhooks::list_webhook_messages)
                .service(v1::webhooks::resend_webhook_message)
                .service(v1::forms::list_forms)
                .service(v1::forms::get_form)
                .service(v1::forms::get_form_schema)
                .service(v1::forms::normalize_form)
                .service(v1::forms::validate_form)
                .service(v1::forms::normalize_field)
                .service(v1::visits::create_visit)
                .service(v1::visits::list_visits)
                .service(v1::visits::get_visit)
                .service(v1::visits::get_determination)
                .service(v1::visits::post_answers)
                .service(v1::visits::attach_card)
                .service(v1::visits::attach_resident)
                .service(v1::visits::get_drafts)
                .service(v1::visits::patch_draft)
                .service(v1::visits::confirm_visit)
                .service(v1::visits::submit_visit)
                .service(v1::visits::list_applications)
                .service(v1::printouts::get_printouts)
                .service(v1::printouts::get_receipt)
                .service(v1::printouts::get_draft_pdf)
                .service(v1::visits::close_visit)
                .service(v1::kpis::get_kpis)
                .service(v1::catalog::get_catalog)
                .service(v1::catalog::get_overrides)
                .service(v1::catalog::put_overrides),
        );
}
