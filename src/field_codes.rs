//! The codes an entry of `errors[]` can carry (and a normalization's notes), each with what it
//! means and what to fix, from `schemas/problems/field-codes.json`: people edit that file, the
//! gateway serves it at `/problems` and makes it the enum of `errors[].code` in the contract.
//! A unit test reads the source and fails when the code answers with a code the file lacks.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::i18n::Text;

/// Where a code is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CodeKind {
    /// A field of a request body (422 `validation_failed`).
    Request,
    /// A field of a standard form (validation, a visit's draft).
    Form,
    /// A value that cannot be brought to its standard form (422 `normalization_failed`).
    Normalize,
    /// A change normalization made that a person should check; never an error.
    Note,
}

impl CodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeKind::Request => "request",
            CodeKind::Form => "form",
            CodeKind::Normalize => "normalize",
            CodeKind::Note => "note",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct FieldCode {
    /// Where it is answered (`required` is a request's and a form's).
    pub kinds: Vec<CodeKind>,
    pub ja: String,
    pub en: String,
}

impl FieldCode {
    pub fn meaning(&self) -> Text {
        Text::new(self.ja.clone(), self.en.clone())
    }
}

#[derive(Deserialize)]
struct File {
    codes: BTreeMap<String, FieldCode>,
}

const SOURCE: &str = include_str!("../schemas/problems/field-codes.json");

static CODES: LazyLock<BTreeMap<String, FieldCode>> = LazyLock::new(|| {
    // The file is embedded and checked by the tests below; an unreadable one documents
    // nothing rather than stopping the gateway.
    serde_json::from_str::<File>(SOURCE)
        .map(|f| f.codes)
        .unwrap_or_default()
});

/// Every documented code, by name.
pub fn all() -> &'static BTreeMap<String, FieldCode> {
    &CODES
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// Snake-case string literals that are not codes answered to a caller: table and column
    /// names, metric names, OAuth's own words, settings, test fixtures. A new literal of this
    /// shape must be documented as a code or named here.
    const NOT_CODES: &[&str] = &[
        "access_token",
        "actix_http",
        "all_dead",
        "application_id",
        "audit_checkpoints",
        "audit_denials",
        "audit_events",
        "base64_bytes",
        "based_on",
        "card_sessions",
        "catalog_overrides",
        "client_addresses",
        "client_credentials",
        "client_id",
        "client_municipalities",
        "client_secret",
        "conformance_faults",
        "conformance_key",
        "conformance_requests",
        "conformance_sessions",
        "console_sessions",
        "default_connector_timeout",
        "default_login_claim",
        "default_municipalities_claim",
        "default_role_claim",
        "default_sso_scopes",
        "deliveries_total",
        "delivery_breaker_open",
        "device_authority",
        "device_id",
        "device_not_active",
        "directory_imports",
        "endpoint_id",
        "error_description",
        "expires_in",
        "gateway_client_id",
        "gateway_client_secret",
        "http_error",
        "idempotency_records",
        "in_progress",
        "lg_code",
        "login_token",
        "madoguchi_console",
        "madoguchi_desk",
        "madoguchi_login",
        "madoguchi_role",
        "madoguchi_sso",
        "mdgs_new",
        "mdgs_old",
        "mdgs_right",
        "mdgs_secret",
        "mdgs_wrong",
        "multi_thread",
        "opened_on",
        "password_stdin",
        "preferred_username",
        "sea_orm",
        "signing_keys",
        "staff_accounts",
        "temporarily_unavailable",
        "tls_cert",
        "tls_key",
        "token_type",
        "tokio_tungstenite",
        "tungstenite_like",
        "virtual_card",
        "visit_fields_prefilled_total",
        "visit_fields_typed_total",
        "visit_forms_prefilled_total",
        "visit_id",
        "visit_procedures",
        "visit_stay_seconds",
        "visits_closed_total",
        "visits_opened_total",
        "webhook_endpoints",
    ];

    /// `lower_snake_case`, the shape of every code (and not a prefix such as `whsec_`).
    fn is_snake(s: &str) -> bool {
        s.contains('_')
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && !s.ends_with('_')
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    fn snake_literals(text: &str, out: &mut BTreeSet<String>) {
        for (i, piece) in text.split('"').enumerate() {
            // Odd pieces are inside quotes.
            if i % 2 == 1 && is_snake(piece) {
                out.insert(piece.to_owned());
            }
        }
    }

    fn json_codes(value: &serde_json::Value, out: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        // A prefecture's "code": "01" is data, not an error code.
                        ("code", serde_json::Value::String(code))
                            if code.starts_with(|c: char| c.is_ascii_lowercase()) =>
                        {
                            out.insert(code.clone());
                        }
                        _ => json_codes(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| json_codes(v, out)),
            _ => {}
        }
    }

    fn walk(dir: &Path, ext: &str, files: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, ext, files);
            } else if path.extension().is_some_and(|e| e == ext) {
                files.push(path);
            }
        }
    }

    #[test]
    fn the_file_parses_and_says_each_code_in_both_languages() {
        let parsed: File = serde_json::from_str(SOURCE).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(parsed.codes.len() > 50);
        for (code, c) in &parsed.codes {
            assert!(!c.ja.is_empty() && !c.en.is_empty(), "{code}");
            assert!(!c.kinds.is_empty(), "{code} says where it is answered");
        }
    }

    /// Every code the source can answer with is documented, and every documented code is one
    /// the source has.
    #[test]
    fn every_code_the_gateway_answers_with_is_documented() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        walk(&root.join("src"), "rs", &mut files);
        let mut literals = BTreeSet::new();
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            // This file names the codes it checks; it answers with none.
            if f.ends_with("field_codes.rs") {
                continue;
            }
            // The conformance kit is a client of the API: its literals are what it expects
            // and reports, never codes the gateway answers with.
            if f.components().any(|c| c.as_os_str() == "conformance") {
                continue;
            }
            // The core-system simulator answers as a core system does, and the layouts' codes
            // are what a core system's reader is told: neither is the gateway's answer.
            if f.ends_with("cli/core_sim.rs") || f.ends_with("layouts.rs") {
                continue;
            }
            snake_literals(&text, &mut literals);
        }
        let mut schemas = Vec::new();
        walk(&root.join("schemas"), "json", &mut schemas);
        let mut in_schemas = BTreeSet::new();
        for f in &schemas {
            if f.ends_with("field-codes.json") {
                continue;
            }
            let text = std::fs::read_to_string(f).unwrap_or_default();
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                json_codes(&v, &mut in_schemas);
            }
        }
        let problems: BTreeSet<&str> = crate::http::problem::ProblemKind::ALL
            .iter()
            .map(|k| k.code())
            .collect();
        let documented = all();
        let undocumented: Vec<&String> = literals
            .iter()
            .chain(in_schemas.iter())
            .filter(|c| {
                !documented.contains_key(*c)
                    && !problems.contains(c.as_str())
                    && !NOT_CODES.contains(&c.as_str())
            })
            .collect();
        assert!(
            undocumented.is_empty(),
            "codes in the source that schemas/problems/field-codes.json does not document (or, if they are no codes, NOT_CODES does not name): {undocumented:?}"
        );
        let stale: Vec<&String> = documented
            .keys()
            .filter(|c| !literals.contains(*c) && !in_schemas.contains(*c))
            .collect();
        assert!(
            stale.is_empty(),
            "documented codes nothing answers with: {stale:?}"
        );
    }
}
