//! The counter console and (next) the KPI dashboard, under `/counter`: server-rendered pages
//! (maud) with htmx for partial updates, every asset served by the binary, for the clerk at a
//! 書かないワンストップ窓口. A first-party client of the same code the API runs: every page reads
//! and changes visits through the functions the API's handlers call (`crate::http::v1`), so no
//! rule, determination or validation has a second copy here.
//!
//! Every answer carries a strict Content-Security-Policy (`default-src 'self'`, no inline
//! script or style), `frame-ancestors 'none'`, `nosniff` and `Referrer-Policy: same-origin`.

pub mod assets;
pub mod card;
pub mod catalog;
pub mod drafts;
pub mod household;
pub mod kpis;
pub mod live;
pub mod login;
pub mod oidc;
pub mod page;
pub mod session;
pub mod sign;
pub mod sso;
pub mod today;
pub mod visit;

use actix_web::middleware::DefaultHeaders;
use actix_web::web;

/// The policy every console answer carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// `/counter` and everything under it.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/counter")
            .wrap(
                DefaultHeaders::new()
                    .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "same-origin"))
                    .add(("Cache-Control", "no-store")),
            )
            .route("", web::get().to(today::page))
            .route("/", web::get().to(today::page))
            .route("/login", web::get().to(login::form))
            .route("/login", web::post().to(login::submit))
            .route("/logout", web::post().to(login::logout))
            .route("/sso/start", web::get().to(sso::start))
            .route("/sso/callback", web::get().to(sso::callback))
            .route("/lang", web::post().to(login::switch_language))
            .route("/keepalive", web::post().to(login::keepalive))
            .route("/static/{version}/{name}", web::get().to(assets::serve))
            .route("/catalog", web::get().to(catalog::page))
            .route("/catalog/preview", web::post().to(catalog::preview))
            .route("/catalog/save", web::post().to(catalog::save))
            .route("/kpis", web::get().to(kpis::page))
            .route("/kpis.csv", web::get().to(kpis::csv))
            .route("/visits", web::post().to(today::open))
            .route("/visits/{id}", web::get().to(visit::start))
            .route("/visits/{id}/identify", web::get().to(visit::identify))
            .route("/visits/{id}/residents", web::post().to(visit::take))
            .route("/visits/{id}/card", web::post().to(card::ask))
            .route("/visits/{id}/card/{sid}", web::get().to(card::page))
            .route("/visits/{id}/card/{sid}/state", web::get().to(card::state))
            .route("/visits/{id}/card/{sid}/take", web::post().to(card::take))
            .route(
                "/visits/{id}/card/{sid}/images/{which}",
                web::get().to(card::image),
            )
            .route("/visits/{id}/household", web::get().to(household::page))
            .route("/visits/{id}/household", web::post().to(household::save))
            .route("/visits/{id}/questions", web::get().to(visit::questions))
            .route("/visits/{id}/answers", web::post().to(visit::answer))
            .route("/visits/{id}/procedures", web::get().to(visit::procedures))
            .route("/visits/{id}/drafts", web::get().to(drafts::page))
            .route("/visits/{id}/drafts", web::post().to(drafts::edit))
            .route("/visits/{id}/confirm", web::get().to(sign::review))
            .route("/visits/{id}/confirm", web::post().to(sign::sign))
            .route("/visits/{id}/after", web::get().to(sign::after))
            .route("/visits/{id}/submit", web::post().to(sign::send))
            .route("/visits/{id}/print/{what}", web::get().to(sign::print))
            .route("/visits/{id}/events", web::get().to(live::events)),
    );
}
