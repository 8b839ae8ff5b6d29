//! The house rules of `DESIGN.md` as a test, so that they are kept by a check rather than a
//! habit. It reads the crate's own source (production code: a file up to its first
//! `#[cfg(test)]`, without `//` comments):
//! - the web framework and the contract generator (`actix*`, `utoipa*`) only at the edge:
//!   `src/http/`, `src/cli/`, `src/startup.rs`, `src/main.rs`, `src/bin/`;
//! - SQL (`sea_orm`) only in `src/store/`;
//! - `crate::http` only at the edge: the domain never calls its caller;
//! - `crate::store` in a domain file only for the services listed in [`STORE_USERS`], each a
//!   use case that reads or writes through the store; a new one is a decision, made here;
//! - the arrows between domain modules one way only ([`ONE_WAY`]): the core-system link reads
//!   visits and residents, a visit reads residents, and neither is read back; the conformance
//!   kit reaches none of the gateway's store, edge, visits or link (it calls the API).

use std::path::{Path, PathBuf};

/// Where HTTP, the command line and start-up live.
const EDGE: &[&str] = &["http/", "console/", "cli/", "bin/", "startup.rs", "main.rs"];

/// Domain files that use the store (a service), relative to `src/`: each a use case that reads
/// or writes through the store. Adding one is a decision, made here.
const STORE_USERS: &[&str] = &[
    "audit/mod.rs",
    "auth/authenticate.rs",
    "auth/client.rs",
    "auth/registry.rs",
    "catalog/versions.rs",
    "conformance_sessions/index.rs",
    "conformance_sessions/service.rs",
    "devices/port.rs",
    "devices/sessions.rs",
    "link/delivery.rs",
    "link/import.rs",
    "maintenance.rs",
    "staff/service.rs",
    "staff/sso.rs",
    "tenancy/directory.rs",
    "tenancy/municipality.rs",
    "tenancy/registry.rs",
];

/// Domain modules that must not name another (`(from, to)`): each pair would make a cycle.
const ONE_WAY: &[(&str, &str)] = &[
    ("visits/", "crate::link"),
    ("residents/", "crate::link"),
    ("residents/", "crate::visits"),
    // The kit tests any implementation from outside: it may not reach into ours.
    ("conformance/", "crate::store"),
    ("conformance/", "crate::http"),
    ("conformance/", "crate::visits"),
    ("conformance/", "crate::link"),
    ("conformance/", "crate::conformance_sessions"),
];

/// Paths of the web framework and the contract generator, as code names them.
const EDGE_CRATES: &[&str] = &[
    "actix_web::",
    "actix_http::",
    "actix_rt::",
    "actix_service::",
    "actix::",
    "utoipa::",
    "utoipa_actix_web::",
    "utoipa_swagger_ui::",
    "#[utoipa",
    "utoipa::path",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The production code of a file: up to its first `#[cfg(test)]`, each line without its `//`
/// comment (a `//` inside a string literal cuts the line short, which only hides code).
fn production_code(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every production file of the crate: its path under `src/` and its code.
fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .iter()
        .map(|f| {
            let name = f
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (name, production_code(&std::fs::read_to_string(f).unwrap()))
        })
        .collect()
}

fn at_edge(file: &str) -> bool {
    EDGE.iter().any(|e| file == *e || file.starts_with(e))
}

#[test]
fn the_house_rules_hold() {
    let files = sources();
    assert!(files.len() > 100, "only {} files read", files.len());
    let mut broken = Vec::new();
    let mut store_users = Vec::new();
    for (file, code) in &files {
        if !at_edge(file) {
            for name in EDGE_CRATES {
                if code.contains(name) {
                    broken.push(format!("{file}: {name} outside the edge"));
                }
            }
            if code.contains("crate::http") {
                broken.push(format!("{file}: crate::http outside the edge"));
            }
        }
        for (from, to) in ONE_WAY {
            if file.starts_with(from) && code.contains(to) {
                broken.push(format!("{file}: {to} from {from}, which it must not read"));
            }
        }
        if !file.starts_with("store/") && code.contains("sea_orm") {
            broken.push(format!("{file}: sea_orm outside src/store/"));
        }
        if !at_edge(file) && !file.starts_with("store/") && code.contains("crate::store") {
            store_users.push(file.clone());
            if !STORE_USERS.contains(&file.as_str()) {
                broken.push(format!(
                    "{file}: crate::store in the domain, and not a listed service (STORE_USERS)"
                ));
            }
        }
    }
    for listed in STORE_USERS {
        if !store_users.iter().any(|f| f == listed) {
            broken.push(format!(
                "{listed} is listed in STORE_USERS but no longer uses the store: take it off"
            ));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_check_sees_what_it_looks_for() {
    // A comment or a test module does not count; code does.
    let text = "use actix_web::web; // actix_web::x\nfn f() {}\n#[cfg(test)]\nmod tests { use sea_orm::X; }";
    let code = production_code(text);
    assert!(code.contains("actix_web::"));
    assert!(!code.contains("sea_orm"));
    assert!(!production_code("// use actix_web::web;").contains("actix_web::"));
    assert!(
        at_edge("http/visits/open.rs") && at_edge("startup.rs") && !at_edge("visits/drafts.rs")
    );
}
