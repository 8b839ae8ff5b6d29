//! The OpenAPI document: the base (info, security schemes, tags) here, the paths collected
//! from the registered handlers by utoipa-actix-web.

use std::collections::BTreeMap;

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
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "oauth", description = "Tokens (OAuth2 client credentials) and the keys that verify them"),
        (name = "municipalities", description = "Municipalities (tenants) a client acts for"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "forms", description = "Standard form schemas; normalizing and validating form data (scope forms)"),
        (name = "admin", description = "Registering municipalities, clients and counter PCs (scope admin)"),
        (name = "card", description = "Reading residents' My Number cards at a counter PC's reader (scope card)"),
        (name = "residents", description = "Looking residents up in the directory the core-system link keeps (scope residents)"),
        (name = "link", description = "Core systems pulling the applications of their business area and answering them (scope link)"),
        (name = "devices", description = "Counter PCs' bridges enrolling with a one-time code"),
        (name = "conformance", description = "Conformance sessions: a counter app judged by what it sends a sandbox municipality (scope conformance)"),
        (name = "operations", description = "Health, readiness, metrics, problem types, this document"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scopes = Scopes::from_iter(
            Scope::ALL
                .iter()
                .map(|s| (s.as_str().to_owned(), s.description().to_owned())),
        );
        let mut oauth2 = OAuth2::new([Flow::ClientCredentials(ClientCredentials::new(
            "/oauth/token",
            scopes,
        ))]);
        oauth2.description = Some(
            "Client credentials at POST /oauth/token give a bearer access token (a JWT, RFC 9068); tokens of a trusted external issuer are accepted too.".to_owned(),
        );
        components.add_security_scheme("oauth2", SecurityScheme::OAuth2(oauth2));
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
pub fn document_json(
    forms: &crate::forms::FormRegistry,
    catalog: &crate::catalog::Catalog,
) -> Result<String, serde_json::Error> {
    let mut json = serde_json::to_string_pretty(&with_form_schemas(&document(), forms, catalog))?;
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

/// Where a reference into a schema document points in `components.schemas`: a definition in
/// `$defs` is a component of its own (`common.person.applicant`), anything else a pointer into
/// the document's component.
fn component_ref(doc: &str, fragment: &str) -> Option<String> {
    let name = component_for(doc)?;
    let fragment = fragment.trim_start_matches('/');
    if let Some(rest) = fragment.strip_prefix("$defs/") {
        let (def, deeper) = rest.split_once('/').map_or((rest, ""), |(d, r)| (d, r));
        let deeper = if deeper.is_empty() {
            String::new()
        } else {
            format!("/{deeper}")
        };
        return Some(format!("#/components/schemas/{name}.{def}{deeper}"));
    }
    if fragment.is_empty() {
        Some(format!("#/components/schemas/{name}"))
    } else {
        Some(format!("#/components/schemas/{name}/{fragment}"))
    }
}

/// Rewrites a schema for `components.schemas`: `$ref`s between schema files (and into
/// `$defs`) become refs into the components, and `$id`/`$schema` go (an `$id` would change how
/// those refs resolve).
fn rewrite_refs(value: &mut serde_json::Value, base: &str) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            map.remove("$id");
            map.remove("$schema");
            if let Some(Value::String(reference)) = map.get_mut("$ref") {
                let (doc, fragment) = crate::forms::plan::resolve_reference(base, reference);
                if let Some(target) = component_ref(&doc, &fragment) {
                    *reference = target;
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

/// The components one schema document becomes: its `$defs`, each a named component
/// (`<name>.<def>`), and the document itself (`<name>`) unless it only holds definitions.
fn components_of(uri: &str, schema: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    let Some(name) = component_for(uri) else {
        return Vec::new();
    };
    let mut schema = schema.clone();
    rewrite_refs(&mut schema, uri);
    let mut out = Vec::new();
    if let Some(serde_json::Value::Object(defs)) =
        schema.as_object_mut().and_then(|m| m.remove("$defs"))
    {
        out.extend(
            defs.into_iter()
                .map(|(def, body)| (format!("{name}.{def}"), body)),
        );
    }
    let only_definitions = schema.as_object().is_some_and(|m| {
        m.keys()
            .all(|k| matches!(k.as_str(), "title" | "description" | "$comment"))
    });
    if !only_definitions {
        out.push((name, schema));
    }
    out
}

/// Code generators follow a `$ref` to a named component, not into one (`…/common.person/
/// properties/familyName`): such a reference is replaced by a copy of what it points at.
/// JSON Schema gives the same answers either way (the schemas have no recursion), and a
/// reference's own annotations (its `title`) win over the copy's.
fn inline_deep_refs(
    value: &mut serde_json::Value,
    schemas: &serde_json::Map<String, serde_json::Value>,
    depth: usize,
) {
    use serde_json::Value;
    const PREFIX: &str = "#/components/schemas/";
    match value {
        Value::Object(map) => {
            let deep = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(PREFIX))
                .and_then(|r| match r.split_once('/') {
                    Some((name, pointer)) => Some((name.to_owned(), format!("/{pointer}"))),
                    // A component that is only a constraint (no type of its own, as
                    // `common.person.named`): generators make nothing of a reference to it,
                    // and everything of the same constraint written in place.
                    None => schemas
                        .get(r)
                        .is_some_and(is_constraint_only)
                        .then(|| (r.to_owned(), String::new())),
                });
            if let Some((name, pointer)) = deep
                && depth < 8
                && let Some(target) = schemas.get(&name).and_then(|s| s.pointer(&pointer))
            {
                let mut copy = target.clone();
                inline_deep_refs(&mut copy, schemas, depth + 1);
                map.remove("$ref");
                let annotations_only = map.keys().all(|k| {
                    matches!(
                        k.as_str(),
                        "title" | "description" | "$comment" | "examples"
                    ) || k.starts_with("x-")
                });
                let siblings = std::mem::take(map);
                match copy {
                    Value::Object(mut target) if annotations_only => {
                        target.extend(siblings);
                        *map = target;
                    }
                    copy => {
                        *map = siblings;
                        map.insert("allOf".into(), Value::Array(vec![copy]));
                    }
                }
                return;
            }
            for (key, child) in map.iter_mut() {
                if !matches!(key.as_str(), "examples" | "enum" | "const" | "default") {
                    inline_deep_refs(child, schemas, depth);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| inline_deep_refs(i, schemas, depth)),
        _ => {}
    }
}

/// A schema that says what a value must satisfy but not what it is: no type, properties,
/// reference, enum or const — only combinators and `required` (and annotations).
fn is_constraint_only(schema: &serde_json::Value) -> bool {
    schema.as_object().is_some_and(|map| {
        !map.keys().any(|k| {
            matches!(
                k.as_str(),
                "type" | "properties" | "$ref" | "enum" | "const" | "items" | "oneOf"
            )
        })
    })
}

/// Makes `schema`'s `property` a reference to the component `to`, keeping its description.
fn ref_property(
    schemas: &mut serde_json::Map<String, serde_json::Value>,
    schema: &str,
    property: &str,
    to: &str,
) {
    let Some(p) = schemas
        .get_mut(schema)
        .and_then(|s| s.pointer_mut(&format!("/properties/{property}")))
    else {
        return;
    };
    let description = p.get("description").cloned();
    *p = serde_json::json!({"$ref": format!("#/components/schemas/{to}")});
    if let Some(d) = description {
        p["description"] = d;
    }
}

/// The names of a domain list, as a JSON array for an `enum`.
fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> serde_json::Value {
    serde_json::Value::from(all.iter().map(|x| name(*x)).collect::<Vec<_>>())
}

/// Every `code` the gateway answers with, as enums a generated client can match on:
/// `ProblemCode` (a problem's `code`, one per problem type at `/problems`) and `FieldCode`
/// (an entry of `errors[]`, a normalization's warning or note; documented in
/// `schemas/problems/field-codes.json` and at `/problems`).
fn code_enums(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let problems: Vec<&str> = super::problem::ProblemKind::ALL
        .iter()
        .map(|k| k.code())
        .collect();
    let fields: Vec<&str> = crate::field_codes::all()
        .keys()
        .map(String::as_str)
        .collect();
    schemas.insert(
        "ProblemCode".into(),
        json!({"type": "string", "enum": problems, "description": "A problem's stable code; GET /problems (Accept: application/json) says what each means and what to do."}),
    );
    schemas.insert(
        "FieldCode".into(),
        json!({"type": "string", "enum": fields, "description": "The stable code of one field's problem (errors[]), or of a warning or note of normalization; GET /problems (Accept: application/json) says what each means and what to fix."}),
    );
    ref_property(schemas, "Problem", "code", "ProblemCode");
    ref_property(schemas, "ProblemTypeDto", "code", "ProblemCode");
    for name in [
        "FieldError",
        "FormErrorDto",
        "IssueDto",
        "FieldWarningDto",
        "FieldCodeDto",
    ] {
        ref_property(schemas, name, "code", "FieldCode");
    }
}

/// The closed sets the DTOs carry as strings, made enums from the domain's lists so that a
/// generated client can match on them (and a misspelt value does not compile).
fn closed_sets(doc: &mut serde_json::Value) {
    use crate::link::webhooks::{APPLICATION_UPDATED, WEBHOOK_TEST};
    use serde_json::{Value, json};
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let sources = names(&crate::visits::model::Source::ALL, |s| s.as_str());
    let channels = names(&crate::link::outbox::Channel::ALL, |c| c.as_str());
    let file_kinds = names(&crate::residents::file::FileKind::ALL, |k| k.as_str());
    let fact_types = names(&crate::catalog::facts::FactType::ALL, |t| t.as_str());
    let outcomes = names(&crate::audit::Outcome::ALL, |o| o.as_str());
    // The values the handlers write: `confirm`'s methods, the handling's modes, the
    // databases, the event types, the signature's media types.
    let table: Vec<(&str, &str, Value)> = vec![
        ("Fact", "source", sources.clone()),
        ("DecidingFact", "source", sources),
        (
            "DraftField",
            "source",
            json!(crate::visits::drafts::field_sources()),
        ),
        ("Delivery", "connector", channels),
        ("DirectoryImport", "kind", file_kinds.clone()),
        ("ImportJob", "kind", file_kinds),
        ("Question", "type", fact_types),
        ("AuditEvent", "outcome", outcomes),
        ("Confirm", "method", json!(["signature", "attestation"])),
        (
            "Confirmation",
            "method",
            json!(["signature", "attestation"]),
        ),
        ("ProcedureHandling", "mode", json!(["counter", "referral"])),
        ("Readiness", "database", json!(["sqlite", "postgresql"])),
        (
            "WebhookMessage",
            "type",
            json!([APPLICATION_UPDATED, WEBHOOK_TEST]),
        ),
        (
            "SignatureImage",
            "mediaType",
            json!(["image/png", "image/jpeg"]),
        ),
    ];
    for (schema, property, values) in table {
        if let Some(p) = schemas
            .get_mut(schema)
            .and_then(|s| s.pointer_mut(&format!("/properties/{property}")))
        {
            p["enum"] = values;
        }
    }
    ref_property(schemas, "LinkApplication", "state", "ApplicationState");
}

/// A new visit's facts typed from the built-in catalogue's facts dictionary: the life event's
/// `kind` is one of the catalogue's, its `facts` are the event facts some life event takes
/// (each typed as the gateway accepts it, no other name), and a member's fields with a list
/// of values (`sex`, `insurance`) say it. A fact the event's kind does not take is still
/// refused by the gateway (422 `unknown_event_fact`).
fn typed_facts(doc: &mut serde_json::Value, catalog: &crate::catalog::Catalog) {
    use serde_json::{Value, json};
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let kinds: Vec<&str> = catalog
        .vocabulary
        .life_events
        .keys()
        .map(String::as_str)
        .collect();
    let mut event_facts = serde_json::Map::new();
    for def in catalog.vocabulary.life_events.values() {
        for name in &def.attributes {
            if let Some(fact) = catalog.facts.event.get(name) {
                event_facts.insert(name.clone(), fact.input_schema());
            }
        }
    }
    if let Some(event) = schemas.get_mut("NewLifeEvent") {
        if let Some(kind) = event.pointer_mut("/properties/kind") {
            kind["enum"] = json!(kinds);
        }
        if let Some(facts) = event.pointer_mut("/properties/facts") {
            facts["properties"] = Value::Object(event_facts);
            facts["additionalProperties"] = Value::Bool(false);
        }
    }
    if let Some(kind) = schemas
        .get_mut("LifeEvent")
        .and_then(|e| e.pointer_mut("/properties/kind"))
    {
        kind["enum"] = json!(kinds);
    }
    if let Some(properties) = schemas
        .get_mut("NewMember")
        .and_then(|m| m.pointer_mut("/properties"))
        .and_then(Value::as_object_mut)
    {
        for (name, property) in properties.iter_mut() {
            let Some(values) = catalog
                .facts
                .member
                .get(name)
                .and_then(|f| f.input_schema().get("enum").cloned())
            else {
                continue;
            };
            let nullable = property["type"]
                .as_array()
                .is_some_and(|t| t.iter().any(|x| x == "null"));
            let codes = json!({ "type": "string", "enum": values });
            if nullable {
                // A list of codes or null, as two branches: a `type` pair with `null` in the
                // `enum` makes openapi-python-client invent three enum classes for one field.
                if let Some(map) = property.as_object_mut() {
                    map.remove("type");
                    map.insert("anyOf".into(), json!([codes, { "type": "null" }]));
                }
            } else {
                property["enum"] = codes["enum"].clone();
            }
        }
    }
}

/// A webhook message's schema: `type` (the event type), `timestamp`, and `data` with exactly
/// `properties`, every one of them present.
fn event_envelope(
    event: &str,
    description: &str,
    properties: serde_json::Value,
) -> serde_json::Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    serde_json::json!({
        "type": "object",
        "description": description,
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"type": "string", "const": event},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": {
                "type": "object",
                "required": required,
                "properties": properties,
                "additionalProperties": false
            }
        },
        "additionalProperties": false
    })
}

/// The messages the gateway sends to vendors' webhook endpoints, in OpenAPI 3.1's `webhooks`:
/// each event type with its payload and the Standard Webhooks headers, so generators type
/// them too. `ApplicationState` is also the `state` of an application.
fn webhooks_section(doc: &mut serde_json::Value) {
    use crate::link::webhooks::{APPLICATION_UPDATED, WEBHOOK_TEST};
    use serde_json::{Value, json};
    let states = names(&crate::visits::confirmation::ApplicationState::ALL, |s| {
        s.as_str()
    });
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.insert(
            "ApplicationState".into(),
            json!({"type": "string", "enum": states, "description": "submitted (made at the counter), delivered (the core system has it), accepted, rejected (with its reason), completed, or referred (handled at another office)."}),
        );
        ref_property(schemas, "Application", "state", "ApplicationState");
        schemas.insert(
            "ApplicationUpdatedEvent".into(),
            event_envelope(
                APPLICATION_UPDATED,
                "An application of a visit this client opened changed state.",
                json!({
                    "applicationId": {"type": "string", "format": "uuid"},
                    "visitId": {"type": "string", "format": "uuid"},
                    "localGovernmentCode": {"type": "string", "pattern": "^[0-9]{6}$"},
                    "procedureId": {"type": "string"},
                    "area": {"type": "string"},
                    "member": {"type": ["string", "null"], "description": "The member it concerns, when it concerns one."},
                    "state": {"$ref": "#/components/schemas/ApplicationState"},
                    "reason": {"type": ["string", "null"], "description": "Rejected: the core system's reason, for the clerk to tell the resident."}
                }),
            ),
        );
        schemas.insert(
            "WebhookTestEvent".into(),
            event_envelope(
                WEBHOOK_TEST,
                "A test message the vendor asked for (POST …/webhooks/{webhookId}/test).",
                json!({
                    "webhookId": {"type": "string", "format": "uuid"},
                    "localGovernmentCode": {"type": "string", "pattern": "^[0-9]{6}$"}
                }),
            ),
        );
    }
    let headers = json!([
        {"name": "webhook-id", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The message's id: the same on every retry of it, so a receiver can drop a repeat."},
        {"name": "webhook-timestamp", "in": "header", "required": true, "schema": {"type": "string", "pattern": "^[0-9]+$"}, "description": "When it was sent, in Unix seconds: refuse one far from now (a replay)."},
        {"name": "webhook-signature", "in": "header", "required": true, "schema": {"type": "string"}, "description": "Space-separated `v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` under the secret's bytes (after `whsec_`), as Standard Webhooks defines; two during a secret rotation's overlap. Accept the message when one verifies."}
    ]);
    let event = |schema: &str, operation: &str, summary: &str, description: &str| {
        json!({"post": {
            "operationId": operation,
            // The receiver checks webhook-signature; there is no other credential.
            "security": [],
            "summary": summary,
            "description": description,
            "parameters": headers.clone(),
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}},
            "responses": {"2XX": {"description": "Taken. Any other answer (or none within the timeout) is retried with backoff, then goes to the dead letter; a redirect is not followed."}}
        }})
    };
    if let Some(root) = doc.as_object_mut() {
        root.insert(
            "webhooks".into(),
            json!({
                APPLICATION_UPDATED: event("ApplicationUpdatedEvent", "applicationUpdated", "An application changed state", "Sent to every endpoint the client that opened the visit registered (POST /v1/municipalities/{lgCode}/webhooks), in order per application."),
                WEBHOOK_TEST: event("WebhookTestEvent", "webhookTest", "A test message", "Sent once, when the vendor asks for it (POST …/webhooks/{webhookId}/test)."),
            }),
        );
    }
}

/// The shared header parameters, defined once with what the server enforces.
fn shared_parameters() -> serde_json::Value {
    serde_json::json!({
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": "A new UUID per request: a retry with the same key and body returns the first response (with Idempotent-Replayed: true) instead of acting twice. 16–255 visible ASCII characters.",
            "schema": {
                "type": "string",
                "minLength": 16,
                "maxLength": 255,
                "pattern": "^[!-~]{16,255}$"
            }
        },
        "MadoguchiActor": {
            "name": "Madoguchi-Actor",
            "in": "header",
            "required": false,
            "description": "Staff id of the clerk acting, recorded in the audit log: 1 to 64 characters (not only spaces), no control, line-breaking, bidirectional or zero-width characters; one header.",
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "pattern": crate::validation::text_pattern(64)
            },
            "example": "K-00123"
        },
        "MadoguchiActorRequired": {
            "name": "Madoguchi-Actor",
            "in": "header",
            "required": true,
            "description": "Staff id of the clerk acting, recorded in the audit log; required on routes that hold residents' personal data (visits): 1 to 64 characters (not only spaces), no control, line-breaking, bidirectional or zero-width characters; one header.",
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "pattern": crate::validation::text_pattern(64)
            },
            "example": "K-00123"
        },
        "IfMatch": {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "description": "The ETag of the visit as this app last read it (\"v12\", from any answer about the visit): the change is made only if no one changed the visit since; else 412 precondition_failed with the current ETag, and nothing changes. Without it, the change is made to whatever the visit is now.",
            "schema": {
                "type": "string",
                "pattern": "^(\\*|(W/)?\"[!#-~]*\"([ \\t]*,[ \\t]*(W/)?\"[!#-~]*\")*)$"
            }
        }
    })
}

/// Replaces every inline `Idempotency-Key`, `Madoguchi-Actor` and `If-Match` header parameter with a
/// reference to its shared definition; an operation with no security requirement but
/// `{}` (anonymous) gets an empty list, as OpenAPI spells "public".
fn tidy_operations(doc: &mut serde_json::Value) {
    use serde_json::Value;
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut() {
            if let Some(Value::Array(params)) = operation.get_mut("parameters") {
                for param in params.iter_mut() {
                    let required = param.get("required") == Some(&Value::Bool(true));
                    let shared = match param.get("name").and_then(Value::as_str) {
                        Some("Idempotency-Key") => "IdempotencyKey",
                        Some("Madoguchi-Actor") if required => "MadoguchiActorRequired",
                        Some("Madoguchi-Actor") => "MadoguchiActor",
                        Some("If-Match") => "IfMatch",
                        _ => continue,
                    };
                    *param =
                        serde_json::json!({ "$ref": format!("#/components/parameters/{shared}") });
                }
            }
            if let Some(security) = operation.get_mut("security")
                && security.as_array().is_some_and(|s| {
                    s.iter()
                        .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
                })
            {
                *security = Value::Array(Vec::new());
            }
        }
    }
}

/// The problems the HTTP edge itself can answer with, added to every operation where they
/// apply and the handler's own list does not name them: a malformed or slow body, a body
/// over the limit or of the wrong type, a malformed parameter, a missing or insufficient
/// token. (The edge's answers are the same for every route; listing them route by route in
/// the handlers would let one drift.)
fn standard_responses(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut() {
            let has_body = operation.get("requestBody").is_some();
            let has_params = operation
                .get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|p| !p.is_empty());
            let secured = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().any(|r| r.get("oauth2").is_some()));
            let mut add: Vec<(&str, &str)> = Vec::new();
            if has_body || has_params {
                add.push(("400", "A malformed body or parameter"));
            }
            if has_body {
                add.push((
                    "408",
                    "The body did not arrive within the request time limit",
                ));
                add.push(("413", "The body is over the size limit"));
                add.push(("415", "The body is not of the documented media type"));
            }
            if secured {
                add.push(("401", "No token, or an invalid or expired one"));
                add.push((
                    "403",
                    "The token lacks the scope, or may not act for this municipality",
                ));
            }
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            for (status, description) in add {
                responses.entry(status).or_insert_with(|| {
                    json!({
                        "description": description,
                        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
                    })
                });
            }
        }
    }
}

/// The path and query parameters that mean the same everywhere, declared once with exactly
/// what the gateway accepts: an lgCode is six digits (`format: lg-code` — the sixth a check
/// digit, which a pattern cannot say), a client id a UUID, and form ids, versions, dialects,
/// normalize kinds and problem types come from their registries.
fn parameter_schemas(doc: &mut serde_json::Value, forms: &crate::forms::FormRegistry) {
    use serde_json::{Value, json};
    let versions: Vec<String> = {
        let mut all: Vec<String> = forms.forms().iter().map(|f| f.version.clone()).collect();
        all.sort();
        all.dedup();
        all
    };
    let schema_of = |name: &str| -> Option<Value> {
        Some(match name {
            "lgCode" => json!({ "type": "string", "pattern": "^[0-9]{6}$", "format": "lg-code" }),
            "clientId" => json!({ "type": "string", "format": "uuid" }),
            "formId" => json!({ "type": "string", "enum": forms.form_ids() }),
            "version" => json!({ "type": "string", "enum": versions }),
            "dialect" => json!({
                "type": "string",
                "enum": forms.dialects().map(|d| d.name.clone()).collect::<Vec<_>>()
            }),
            "kind" => json!({
                "type": "string",
                "enum": crate::forms::normalize::Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()
            }),
            "problemType" => json!({
                "type": "string",
                "enum": super::problem::ProblemKind::ALL.iter().map(|k| k.code().replace('_', "-")).collect::<Vec<_>>()
            }),
            _ => return None,
        })
    };
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut() {
            let Some(Value::Array(params)) = operation.get_mut("parameters") else {
                continue;
            };
            for param in params.iter_mut() {
                let name = param
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                // `kind` is a normalize kind only as the path parameter of /v1/normalize; the
                // resident import's `kind` query (full, diff) keeps its own enum.
                let in_path = param.get("in").and_then(Value::as_str) == Some("path");
                if name == "kind" && !in_path {
                    continue;
                }
                if let Some(schema) = schema_of(name) {
                    param["schema"] = schema;
                }
            }
        }
    }
}

/// One concrete `normalize` and `validate` operation per form version, beside the generic
/// routes (which serve them): its request body is the form's own schema, so that a generated
/// client has a typed call per form.
fn form_operations(doc: &mut serde_json::Value, forms: &crate::forms::FormRegistry) {
    use serde_json::Value;
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let generic: Vec<(&str, Value)> = ["normalize", "validate"]
        .into_iter()
        .filter_map(|verb| {
            let path = format!("/v1/forms/{{formId}}/{{version}}/{verb}");
            paths
                .get(&path)
                .and_then(|p| p.get("post"))
                .cloned()
                .map(|o| (verb, o))
        })
        .collect();
    // The generic routes take any JSON object (a form document, or a dialect's layout); their
    // example is a document of the form their path parameters' examples name.
    for verb in ["normalize", "validate"] {
        let path = format!("/v1/forms/{{formId}}/{{version}}/{verb}");
        let example_of = |name: &str| {
            paths
                .get(&path)
                .and_then(|p| p.pointer("/post/parameters"))
                .and_then(Value::as_array)
                .and_then(|params| params.iter().find(|p| p["name"] == name))
                .and_then(|p| p.get("example"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let example = match (example_of("formId"), example_of("version")) {
            (Some(id), Some(version)) => forms
                .form(&id, Some(&version))
                .ok()
                .and_then(|f| f.schema.pointer("/examples/0").cloned()),
            _ => None,
        };
        if let Some(content) = paths
            .get_mut(&path)
            .and_then(|p| p.pointer_mut("/post/requestBody/content/application~1json"))
            .and_then(Value::as_object_mut)
        {
            content.insert(
                "schema".into(),
                serde_json::json!({ "type": "object", "additionalProperties": true }),
            );
            if let Some(example) = example {
                content.insert("example".into(), example);
            }
        }
    }
    for form in forms.forms() {
        let component = format!("form.{}.{}", form.id, form.version);
        let id = operation_suffix(&form.id, &form.version);
        for (verb, operation) in &generic {
            let mut operation = operation.clone();
            let Some(object) = operation.as_object_mut() else {
                continue;
            };
            object.insert("operationId".into(), format!("{verb}{id}").into());
            object.insert(
                "summary".into(),
                format!("{}: {} ({} {})", verb, form.title, form.id, form.version).into(),
            );
            object.insert(
                "description".into(),
                format!(
                    "`{verb}` for {} ({} {}): the body is a document of the form's schema `{component}`. The same as the generic `/v1/forms/{{formId}}/{{version}}/{verb}` without a dialect.",
                    form.title, form.id, form.version
                )
                .into(),
            );
            // The path names the form; a dialect's layout is for the generic route.
            object.remove("parameters");
            object.insert(
                "requestBody".into(),
                serde_json::json!({
                    "description": format!("A document of {} ({} {})", form.title, form.id, form.version),
                    "required": true,
                    "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{component}") } } }
                }),
            );
            let path = format!("/v1/forms/{}/{}/{verb}", form.id, form.version);
            paths.insert(path, serde_json::json!({ "post": operation }));
        }
    }
}

/// A form field's Japanese label (its `title` in the schema files, used in messages and on
/// printouts) becomes `x-label` in the contract: code generators name types after a `title`,
/// and vendors' identifiers should be English (`NationalHealthInsurance10Applicant`, not a
/// module named 届出人). A field without a description keeps the label as its description, so
/// the documentation still shows it.
fn labels_not_names(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let label = match map.get("title") {
                Some(Value::String(t)) if !t.is_ascii() => Some(t.clone()),
                _ => None,
            };
            if let Some(label) = label {
                map.remove("title");
                if !map.contains_key("description") {
                    map.insert("description".into(), Value::String(label.clone()));
                }
                map.insert("x-label".into(), Value::String(label));
            }
            for (key, child) in map.iter_mut() {
                // Data, not schemas: labels of codes, messages, examples.
                if key.starts_with("x-") || key == "examples" || key == "example" {
                    continue;
                }
                labels_not_names(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(labels_not_names),
        _ => {}
    }
}

/// Calls `f` on every schema object in `value`, outermost first, never inside data: `enum`,
/// `const`, `examples`, `example`, `default` and the `x-` extensions hold values, not schemas.
pub(super) fn each_schema_mut(
    value: &mut serde_json::Value,
    f: &mut dyn FnMut(&mut serde_json::Map<String, serde_json::Value>),
) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            f(map);
            for (key, child) in map.iter_mut() {
                let data = matches!(
                    key.as_str(),
                    "enum" | "const" | "examples" | "example" | "default"
                ) || key.starts_with("x-");
                if !data {
                    each_schema_mut(child, f);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| each_schema_mut(i, f)),
        _ => {}
    }
}

/// A list of Japanese codes (続柄, 使用目的 …) gets English names for generated identifiers
/// (`x-enum-varnames`, which openapi-python-client and openapi-generator read) from
/// `reference/enum-names.json`: a vendor writes `ElderBrother` (`ELDER_BROTHER` in Python), and
/// sends 兄.
fn english_enum_names(value: &mut serde_json::Value, names: &BTreeMap<String, String>) {
    use serde_json::Value;
    each_schema_mut(value, &mut |map| {
        let varnames = map.get("enum").and_then(Value::as_array).and_then(|codes| {
            let japanese = codes
                .iter()
                .any(|c| c.as_str().is_some_and(|s| !s.is_ascii()));
            if !japanese {
                return None;
            }
            codes
                .iter()
                .map(|c| {
                    c.as_str()
                        .and_then(|s| names.get(s))
                        .cloned()
                        .map(Value::String)
                })
                .collect::<Option<Vec<Value>>>()
        });
        if let Some(varnames) = varnames {
            map.insert("x-enum-varnames".into(), Value::Array(varnames));
        }
    });
}

/// Every lgCode in the contract (a path or query parameter, a body's field, a form's
/// `lg-code`) says the prefecture range in its pattern ([`crate::tenancy::LG_CODE_PATTERN`]),
/// so a generator draws codes of a real prefecture; only the check digit is left to the server.
fn lg_code_patterns(value: &mut serde_json::Value) {
    use serde_json::Value;
    each_schema_mut(value, &mut |map| {
        let is_lg_code = map.get("format").and_then(Value::as_str) == Some("lg-code")
            || map.get("pattern").and_then(Value::as_str) == Some("^[0-9]{6}$");
        if is_lg_code {
            map.insert(
                "pattern".into(),
                Value::String(crate::tenancy::LG_CODE_PATTERN.to_owned()),
            );
        }
    });
}

/// A list of codes that a schema file names (`"1"`, `"2"`, `"9"` → Male, Female, Unknown)
/// keeps those names wherever the contract repeats it (a new member's sex, the answer about
/// it), instead of the generator's `VALUE_0`.
fn same_codes_same_names(doc: &mut serde_json::Value) {
    let mut known = BTreeMap::new();
    each_schema_mut(doc, &mut |map| {
        if let (Some(codes), Some(names)) = (map.get("enum"), map.get("x-enum-varnames")) {
            known.insert(codes.to_string(), names.clone());
        }
    });
    each_schema_mut(doc, &mut |map| {
        let names = match (map.get("enum"), map.get("x-enum-varnames")) {
            (Some(codes), None) => known.get(&codes.to_string()).cloned(),
            _ => None,
        };
        if let Some(names) = names {
            map.insert("x-enum-varnames".into(), names);
        }
    });
}

/// `residentMove`, `1.0` → `ResidentMove_1_0`.
fn operation_suffix(id: &str, version: &str) -> String {
    let mut out = String::new();
    let mut chars = id.chars();
    if let Some(first) = chars.next() {
        out.extend(first.to_uppercase());
        out.extend(chars);
    }
    out.push('_');
    out.push_str(&version.replace(['.', '-'], "_"));
    out
}

/// The document with every form and common schema in `components.schemas` (their `$defs`
/// hoisted into components of their own), the shared header parameters, and a typed operation
/// per form, so that vendors can generate clients for the form data too.
pub fn with_form_schemas(
    doc: &OpenApiDoc,
    forms: &crate::forms::FormRegistry,
    catalog: &crate::catalog::Catalog,
) -> serde_json::Value {
    let mut value = serde_json::to_value(doc).unwrap_or_default();
    if let Some(root) = value.as_object_mut() {
        root.insert(
            "servers".into(),
            serde_json::json!([{ "url": "/", "description": "This gateway" }]),
        );
    }
    let documents = forms
        .common()
        .iter()
        .map(|c| (c.uri.as_str(), &c.schema))
        .chain(forms.forms().iter().map(|f| (f.uri.as_str(), &f.schema)));
    let mut added = serde_json::Map::new();
    for (uri, schema) in documents {
        added.extend(components_of(uri, schema));
    }
    let from_files: std::collections::BTreeSet<String> = added.keys().cloned().collect();
    let lookup = added.clone();
    for schema in added.values_mut() {
        inline_deep_refs(schema, &lookup, 0);
        labels_not_names(schema);
    }
    if let Some(schemas) = value
        .pointer_mut("/components/schemas")
        .and_then(serde_json::Value::as_object_mut)
    {
        schemas.extend(added);
    }
    if let Some(components) = value
        .get_mut("components")
        .and_then(serde_json::Value::as_object_mut)
    {
        components.insert("parameters".into(), shared_parameters());
    }
    tidy_operations(&mut value);
    code_enums(&mut value);
    webhooks_section(&mut value);
    closed_sets(&mut value);
    typed_facts(&mut value, catalog);
    super::openapi_visit_types::add(&mut value, &from_files, forms, catalog);
    parameter_schemas(&mut value, forms);
    standard_responses(&mut value);
    form_operations(&mut value, forms);
    english_enum_names(&mut value, &forms.enum_names);
    same_codes_same_names(&mut value);
    lg_code_patterns(&mut value);
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::MunicipalityPatch;
    use crate::validation::text_pattern;
    use serde_json::{Value, json};

    /// The built-in forms and catalogue, and the contract made from them.
    fn built_in_document() -> (crate::forms::FormRegistry, crate::catalog::Catalog, Value) {
        let forms =
            crate::forms::FormRegistry::load(&crate::forms::SchemaSource::Embedded).unwrap();
        let catalog =
            crate::catalog::Catalog::load(&crate::forms::SchemaSource::Embedded, &forms).unwrap();
        let doc = serde_json::from_str(&document_json(&forms, &catalog).unwrap()).unwrap();
        (forms, catalog, doc)
    }

    fn schema_at(doc: &Value, pointer: &str) -> Value {
        doc.pointer(pointer)
            .cloned()
            .unwrap_or_else(|| panic!("no schema at {pointer}"))
    }

    fn accepts(schema: &Value, value: &str) -> bool {
        let validator = jsonschema::options()
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(schema)
            .unwrap();
        validator.is_valid(&json!(value))
    }

    /// A new visit's life event and member say the catalogue's values: every life event kind,
    /// every event fact some kind takes (typed), the members' lists of values.
    #[test]
    fn a_new_visit_is_typed_from_the_catalogue() {
        let (_, catalog, doc) = built_in_document();
        let event = &doc["components"]["schemas"]["NewLifeEvent"]["properties"];
        let kinds: Vec<&String> = catalog.vocabulary.life_events.keys().collect();
        assert_eq!(event["kind"]["enum"], json!(kinds));
        for def in catalog.vocabulary.life_events.values() {
            for name in &def.attributes {
                assert!(event["facts"]["properties"][name].is_object(), "{name}");
            }
        }
        assert_eq!(event["facts"]["additionalProperties"], false);
        assert_eq!(
            event["facts"]["properties"]["cardSpecialMoveIn"]["type"],
            "boolean"
        );
        let sex = &doc["components"]["schemas"]["NewMember"]["properties"]["sex"]["anyOf"];
        assert_eq!(
            sex,
            &json!([
                {"type": "string", "enum": ["1", "2", "9"], "x-enum-varnames": ["Male", "Female", "Unknown"]},
                {"type": "null"}
            ])
        );
        // What the contract says is what the gateway takes.
        let from = &event["facts"]["properties"]["from"];
        let def = &catalog.facts.event["from"];
        for v in from["enum"].as_array().unwrap() {
            assert!(def.accepts(v), "{v}");
        }
        assert!(!def.accepts(&json!("nowhere")));
    }

    /// Every lgCode's pattern says the prefecture range, and every code the gateway takes
    /// matches it (the check digit is the server's).
    #[test]
    fn every_lg_code_states_the_prefecture_range() {
        let forms =
            crate::forms::FormRegistry::load(&crate::forms::SchemaSource::Embedded).unwrap();
        let catalog =
            crate::catalog::Catalog::load(&crate::forms::SchemaSource::Embedded, &forms).unwrap();
        let json = document_json(&forms, &catalog).unwrap();
        assert!(!json.contains("^[0-9]{6}$"));
        let doc: Value = serde_json::from_str(&json).unwrap();
        let param = doc["paths"]["/v1/municipalities/{lgCode}"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "lgCode")
            .unwrap()["schema"]
            .clone();
        assert_eq!(param["pattern"], crate::tenancy::LG_CODE_PATTERN);
        assert_eq!(
            doc["components"]["schemas"]["common.address.lgCode"]["pattern"],
            crate::tenancy::LG_CODE_PATTERN
        );
        let pattern = jsonschema::options()
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(&json!({"type": "string", "pattern": crate::tenancy::LG_CODE_PATTERN}))
            .unwrap();
        // Every code with a valid check digit (all 47 prefectures' ranges) matches the pattern;
        // no code outside the prefectures does.
        let mut taken = 0;
        for n in 0..1_000_000u32 {
            let code = format!("{n:06}");
            let parsed = crate::tenancy::LgCode::parse(&code).is_ok();
            if parsed || n % 997 == 0 {
                let matches = pattern.is_valid(&json!(code));
                if parsed {
                    taken += 1;
                    assert!(matches, "{code}");
                }
                let prefecture: u32 = code[..2].parse().unwrap();
                assert_eq!(matches, (1..=47).contains(&prefecture), "{code}");
            }
        }
        assert!(taken > 40_000, "{taken}");
    }

    /// Every list of Japanese codes has an English name for each code, for generated
    /// identifiers; the names of one list differ.
    #[test]
    fn japanese_codes_have_english_names() {
        let (_, _, doc) = built_in_document();
        fn walk(v: &Value, at: &str, lists: &mut usize, missing: &mut Vec<String>) {
            match v {
                Value::Object(map) => {
                    if let Some(codes) = map.get("enum").and_then(Value::as_array)
                        && codes
                            .iter()
                            .any(|c| c.as_str().is_some_and(|s| !s.is_ascii()))
                    {
                        *lists += 1;
                        let names = map.get("x-enum-varnames").and_then(Value::as_array);
                        match names {
                            Some(n) if n.len() == codes.len() => {
                                let unique: std::collections::BTreeSet<_> =
                                    n.iter().filter_map(Value::as_str).collect();
                                if unique.len() != n.len() {
                                    missing.push(format!("{at}: two codes share a name"));
                                }
                            }
                            _ => missing.push(format!("{at}: {codes:?}")),
                        }
                    }
                    for (k, c) in map {
                        if k != "enum" && !k.starts_with("x-") && k != "examples" && k != "example"
                        {
                            walk(c, &format!("{at}/{k}"), lists, missing);
                        }
                    }
                }
                Value::Array(items) => {
                    for (i, c) in items.iter().enumerate() {
                        walk(c, &format!("{at}/{i}"), lists, missing);
                    }
                }
                _ => {}
            }
        }
        let (mut lists, mut missing) = (0, Vec::new());
        walk(&doc, "", &mut lists, &mut missing);
        assert!(lists >= 20, "{lists}");
        assert!(missing.is_empty(), "{}", missing.join("\n"));
        let relation = &doc["components"]["schemas"]["common.relationship.toHouseholder"];
        let at = relation["enum"]
            .as_array()
            .unwrap()
            .iter()
            .position(|c| c == "兄")
            .unwrap();
        assert_eq!(relation["x-enum-varnames"][at], "ElderBrother");
    }

    /// A draft is a variant per form, its document the form's draft shape; an answer is a
    /// variant per fact that can be answered, its value typed as the facts dictionary says.
    #[test]
    fn drafts_and_answers_are_typed_per_form_and_per_fact() {
        let (forms, catalog, doc) = built_in_document();
        let schemas = &doc["components"]["schemas"];
        // Each union's variants, by the `const` of the property that tells them apart.
        let variants = |union: &str, property: &str| -> BTreeMap<String, String> {
            schemas[union]["oneOf"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    let name = v["$ref"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("#/components/schemas/")
                        .to_owned();
                    let tag = schemas[&name]["properties"][property]["const"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    (tag, name)
                })
                .collect()
        };
        let mapping = variants("Draft", "form");
        assert_eq!(mapping.len(), forms.forms().len());
        for form in forms.forms() {
            let key = format!("{}@{}", form.id, form.version);
            let variant = mapping[&key].as_str();
            assert_eq!(
                schemas[variant]["properties"]["form"]["const"],
                key.as_str()
            );
            let document = schemas[variant]["properties"]["document"]["$ref"]
                .as_str()
                .unwrap()
                .trim_start_matches("#/components/schemas/");
            let shape = &schemas[document];
            assert!(shape["required"].is_null(), "{document}");
            assert_eq!(shape["additionalProperties"], false, "{document}");
        }
        let answers = variants("Answer", "fact");
        for (holder, facts) in catalog.facts.holders() {
            for (name, def) in facts {
                let fact = format!("{holder}.{name}");
                let derived = def.kind == crate::catalog::facts::FactKind::Derived;
                assert_eq!(answers.contains_key(&fact), !derived, "{fact}");
            }
        }
        let sex = &schemas["Answer.member.sex"];
        assert_eq!(sex["properties"]["value"]["enum"], json!(["1", "2", "9"]));
        assert_eq!(sex["required"], json!(["fact", "value", "member"]));
        assert_eq!(
            schemas["Answer.household.ownsMoped"]["properties"]["value"]["type"],
            "boolean"
        );
        assert!(!answers.contains_key("member.age"));
    }

    /// Generators name types after `title`s: none in the document is Japanese; the label a
    /// form field has in its schema file is kept as `x-label` (and as the description of a
    /// field that has none).
    #[test]
    fn generators_find_english_names_and_fields_keep_their_labels() {
        let (forms, _, doc) = built_in_document();
        fn titles(v: &Value, at: &str, out: &mut Vec<String>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(t)) = map.get("title")
                        && !t.is_ascii()
                    {
                        out.push(format!("{at}: {t}"));
                    }
                    for (k, x) in map {
                        titles(x, &format!("{at}/{k}"), out);
                    }
                }
                Value::Array(items) => {
                    for (i, x) in items.iter().enumerate() {
                        titles(x, &format!("{at}/{i}"), out);
                    }
                }
                _ => {}
            }
        }
        let mut japanese = Vec::new();
        titles(&doc, "", &mut japanese);
        assert!(japanese.is_empty(), "{japanese:?}");
        let postal = &doc["components"]["schemas"]["common.address"]["properties"]["postalCode"];
        assert_eq!(postal["x-label"], "郵便番号");
        assert_eq!(postal["description"], "郵便番号");
        // The gateway's own messages still use the label.
        let form = forms.form("residentMove", Some("1.0")).unwrap();
        assert!(!form.title.is_ascii(), "{}", form.title);
    }

    /// A schema that mirrors a domain list says every value of it, and a parameter with the same
    /// name as another keeps its own values: a typed client can send everything the server
    /// takes (the resident import's `kind` said the normalize kinds, and the scope list missed
    /// `residents` and `link`).
    #[test]
    fn mirrors_of_domain_lists_cover_them() {
        let (_, _, doc) = built_in_document();
        let scopes: Vec<&str> = crate::auth::Scope::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            doc["components"]["schemas"]["ScopeName"]["enum"],
            json!(scopes)
        );
        let flows =
            &doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["scopes"];
        for scope in &scopes {
            assert!(
                flows.get(*scope).is_some(),
                "{scope} is not a documented scope"
            );
        }
        let param = |path: &str, name: &str| -> Value {
            doc["paths"][path]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|op| op["parameters"].as_array().cloned().unwrap_or_default())
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("{path} has no parameter {name}"))
        };
        assert_eq!(
            param("/v1/admin/resident-imports", "kind")["schema"]["enum"],
            json!(["full", "diff"])
        );
        let kinds: Vec<&str> = crate::forms::normalize::Kind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            param("/v1/normalize/{kind}", "kind")["schema"]["enum"],
            json!(kinds)
        );
        // Swagger UI fills a parameter's example in: one fixed Idempotency-Key made every later
        // POST a replay of the first, and a fixed day hid today's visits.
        let key = &doc["components"]["parameters"]["IdempotencyKey"];
        assert!(key.get("example").is_none(), "{key}");
        let day = param("/v1/municipalities/{lgCode}/visits", "date");
        assert!(day.get("example").is_none(), "{day}");
    }

    /// What the document says a field takes is what the server takes, value by value: a
    /// generated client or a contract tester that trusts the document is never surprised.
    #[test]
    fn documented_field_rules_match_the_server() {
        let doc = serde_json::to_value(document()).unwrap();
        let s = "/components/schemas";
        for (pointer, max) in [
            ("/NewMunicipality/properties/name", 64),
            ("/NewClient/properties/name", 100),
            ("/MunicipalityPatch/properties/name", 64),
        ] {
            let schema = schema_at(&doc, &format!("{s}{pointer}"));
            assert_eq!(schema["pattern"], json!(text_pattern(max)), "{pointer}");
        }
        let department = schema_at(&doc, &format!("{s}/ContactPatch/properties/department"));
        assert_eq!(
            department["pattern"],
            json!(format!("^$|{}", text_pattern(64)))
        );

        let kana = schema_at(&doc, &format!("{s}/MunicipalityPatch/properties/nameKana"));
        let phone = schema_at(&doc, &format!("{s}/ContactPatch/properties/phone"));
        let email = schema_at(&doc, &format!("{s}/ContactPatch/properties/email"));
        let patch = |f: &dyn Fn(&mut MunicipalityPatch)| {
            let mut p = MunicipalityPatch::default();
            f(&mut p);
            p.checked().is_ok()
        };
        for value in [
            "",
            "キタミシ",
            "キタミ\u{3000}シ",
            "きたみし",
            " キタミシ",
            "キタミシ\u{3000}",
            "ｷﾀﾐｼ",
            "ー",
            "・",
            &"ア".repeat(64),
            &"ア".repeat(65),
        ] {
            let v = Some(value.to_owned());
            assert_eq!(
                accepts(&kana, value),
                patch(&|p| p.name_kana = Some(v.clone())),
                "nameKana {value:?}"
            );
        }
        for value in [
            "",
            "0157-23-7111",
            "0157237111",
            "09012345678",
            "090-1234-5678-9",
            "0157-23-711",
            " 0157-23-7111",
            "0157 23 7111",
            "--0157237111--",
            "０１５７２３７１１１",
        ] {
            let v = Some(value.to_owned());
            assert_eq!(
                accepts(&phone, value),
                patch(&|p| p.phone = Some(v.clone())),
                "phone {value:?}"
            );
        }
        for value in [
            "",
            "a@b.jp",
            "shimin@city.kitami.lg.jp",
            "a@.jp",
            "a@b.",
            "a@b",
            "@b.jp",
            "a b@c.jp",
            "a@b@c.jp",
            " a@b.jp",
            "a@b.jp\u{200B}",
            "a@b..",
            "a@b.c.",
        ] {
            let v = Some(value.to_owned());
            assert_eq!(
                accepts(&email, value),
                patch(&|p| p.email = Some(v.clone())),
                "email {value:?}"
            );
        }
    }
}
