//! The OpenAPI document: the base (info, security schemes, tags) here, the paths collected
//! from the registered handlers by utoipa-actix-web.

use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{
    ClientCredentials, Flow, Http, HttpAuthScheme, OAuth2, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};

use crate::auth::Scope;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "madoguchi",
        description = "書かないワンストップ窓口ゲートウェイ — the gateway between vendors' counter apps and a municipality's standardized core systems.\n\nErrors are RFC 9457 `application/problem+json`, in Japanese by default and in English with `Accept-Language: en`. Resources of a municipality live under `/v1/municipalities/{lgCode}`; a token acts only for the municipalities it was granted.",
        license(name = "Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "oauth", description = "Tokens (OAuth2 client credentials) and the keys that verify them"),
        (name = "municipalities", description = "Municipalities (tenants) a client acts for"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "admin", description = "Registering municipalities and clients (scope admin)"),
        (name = "operations", description = "Health, readiness, metrics, problem types, this document"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".to_owned());
        bearer.description = Some(
            "Access token from POST /oauth/token (or from a trusted external issuer).".to_owned(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let scopes = Scopes::from_iter(
            Scope::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), s.description().to_owned())),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::ClientCredentials(
                ClientCredentials::new("/oauth/token", scopes),
            )])),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

/// The whole document, as `madoguchi openapi` prints it and `/openapi.json` serves it.
pub fn document() -> OpenApiDoc {
    use utoipa_actix_web::AppExt;
    let (_, doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(super::routes)
        .split_for_parts();
    doc
}

/// The document as committed in `openapi/openapi.json`: pretty-printed, ending in a newline.
pub fn document_json() -> Result<String, serde_json::Error> {
    let mut json = serde_json::to_string_pretty(&document())?;
    json.push('\n');
    Ok(json)
}
