//! The HTTP edge: actix handlers and DTOs (one file per resource), extractors, problems,
//! middleware and the OpenAPI document. Handlers translate HTTP to domain calls and back.

mod admin;
mod audit;
pub mod auth;
mod card_sessions;
mod catalog;
pub mod client_address;
pub mod deadline;
mod deliveries;
mod devices;
mod directory_imports;
mod domain_errors;
pub mod extract;
pub mod fallback;
pub mod forms;
pub mod headers;
pub mod heavy_work;
pub mod idempotency;
mod kpis;
mod link;
pub mod methods;
mod municipalities;
mod oauth;
pub mod openapi;
mod openapi_visit_types;
pub mod operations;
pub mod pagination;
pub mod preconditions;
mod printouts;
pub mod problem;
pub mod request_id;
mod residents;
pub mod state;
pub mod telemetry;
mod visits;
mod webhooks;

pub use admin::{ClientDto, CreatedClientDto};
pub use municipalities::MunicipalityDto;

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
                .service(municipalities::list_municipalities)
                .service(municipalities::get_municipality)
                .service(municipalities::patch_municipality)
                .service(audit::list_audit_events)
                .service(admin::create_municipality)
                .service(admin::list_all_municipalities)
                .service(admin::create_client)
                .service(admin::list_clients)
                .service(admin::get_client)
                .service(admin::revoke_client)
                .service(devices::create_device)
                .service(devices::list_devices)
                .service(devices::get_device)
                .service(devices::revoke_device)
                .service(devices::enrol_device)
                .service(card_sessions::create_card_session)
                .service(card_sessions::get_card_session)
                .service(card_sessions::get_card_image)
                .service(directory_imports::create_import)
                .service(directory_imports::get_import)
                .service(directory_imports::list_imports)
                .service(residents::search_residents)
                .service(residents::get_household)
                .service(link::pull_applications)
                .service(link::acknowledge)
                .service(deliveries::list_deliveries)
                .service(deliveries::get_delivery)
                .service(deliveries::replay_delivery)
                .service(webhooks::create_webhook)
                .service(webhooks::list_webhooks)
                .service(webhooks::delete_webhook)
                .service(webhooks::rotate_webhook_secret)
                .service(webhooks::test_webhook)
                .service(webhooks::list_webhook_messages)
                .service(webhooks::resend_webhook_message)
                .service(forms::list_forms)
                .service(forms::get_form)
                .service(forms::get_form_schema)
                .service(forms::normalize_form)
                .service(forms::validate_form)
                .service(forms::normalize_field)
                .service(visits::create_visit)
                .service(visits::list_visits)
                .service(visits::get_visit)
                .service(visits::get_determination)
                .service(visits::post_answers)
                .service(visits::attach_card)
                .service(visits::attach_resident)
                .service(visits::get_drafts)
                .service(visits::patch_draft)
                .service(visits::confirm_visit)
                .service(visits::submit_visit)
                .service(visits::list_applications)
                .service(printouts::get_printouts)
                .service(printouts::get_receipt)
                .service(printouts::get_draft_pdf)
                .service(visits::close_visit)
                .service(kpis::get_kpis)
                .service(catalog::get_catalog)
                .service(catalog::get_overrides)
                .service(catalog::put_overrides),
        );
}
