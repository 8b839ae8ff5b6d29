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
        (name = "forms", description = "Standard form schemas; normalizing and validating form data (scope forms)"),
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

/// The document as committed in `openapi/openapi.json` (with the built-in form schemas):
/// pretty-printed, ending in a newline.
pub fn document_json(forms: &crate::forms::FormRegistry) -> Result<String, serde_json::Error> {
    let mut json = serde_json::to_string_pretty(&with_form_schemas(&document(), forms))?;
    json.push('\n');
    Ok(json)
}

/// Component name of a schema document in the OpenAPI document: `form.<id>.<version>` for a
/// form, `common.<name>` for a common schema.
fn component_for(uri: &str) -> Option<String> {
    let path = uri.split("/schemas/").nth(1)?;
    let path = path.strip_suffix(".schema.json")?;
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["forms", id, version] => Some(format!("form.{id}.{version}")),
        ["common", name] => Some(format!("common.{name}")),
        _ => None,
    }
}

/// Rewrites a schema for `components.schemas`: `$ref`s between schema files become refs into
/// the components, and `$id`/`$schema` go (an `$id` would change how those refs resolve).
fn rewrite_refs(value: &mut serde_json::Value, base: &str) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            map.remove("$id");
            map.remove("$schema");
            if let Some(Value::String(reference)) = map.get_mut("$ref") {
                let (doc, fragment) = crate::forms::plan::resolve_reference(base, reference);
                if let Some(name) = component_for(&doc) {
                    *reference = format!("#/components/schemas/{name}{fragment}");
                }
            }
            for (key, child) in map.iter_mut() {
                // `examples`, `enum`, `const` and `default` hold data, not schemas.
                if !matches!(key.as_str(), "examples" | "enum" | "const" | "default") {
                    rewrite_refs(child, base);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| rewrite_refs(i, base)),
        _ => {}
    }
}

/// The document with every form and common schema in `components.schemas`, so that vendors
/// can generate clients for the form data too.
pub fn with_form_schemas(
    doc: &OpenApiDoc,
    forms: &crate::forms::FormRegistry,
) -> serde_json::Value {
    let mut value = serde_json::to_value(doc).unwrap_or_default();
    let documents = forms
        .common()
        .iter()
        .map(|c| (c.uri.as_str(), &c.schema))
        .chain(forms.forms().iter().map(|f| (f.uri.as_str(), &f.schema)));
    let mut added = serde_json::Map::new();
    for (uri, schema) in documents {
        if let Some(name) = component_for(uri) {
            let mut schema = schema.clone();
            rewrite_refs(&mut schema, uri);
            added.insert(name, schema);
        }
    }
    if let Some(schemas) = value
        .pointer_mut("/components/schemas")
        .and_then(serde_json::Value::as_object_mut)
    {
        schemas.extend(added);
    }
    value
}
