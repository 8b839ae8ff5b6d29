//! The README's walks run as they are written: every `sh` block of a section is joined into
//! one bash script, its `http://127.0.0.1:8080` pointed at a live gateway, and run with
//! `set -euo pipefail` (each `curl` has `--fail-with-body`), so a walk that stops working
//! fails here rather than in a vendor's hands.

use std::path::Path;

use crate::helpers::{Backend, spawn_app};
use crate::storage_test;

/// The `sh` blocks of the README section headed `heading`, in order.
fn sh_blocks(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("the README has no section {heading:?}"));
    let section = &readme[start + heading.len()..];
    // The next heading (outside a block a line starting with `#` is one; inside, a comment).
    let end = section
        .find("\n## ")
        .into_iter()
        .chain(section.find("\n### "))
        .min()
        .unwrap_or(section.len());
    let section = &section[..end];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("\n```").expect("a closed block");
        blocks.push(body[..close].to_owned());
        rest = &body[close + 4..];
    }
    blocks
}

async fn the_readme_visit_walk_runs_as_written(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let blocks = sh_blocks(&readme, "### A walk through a visit");
    assert_eq!(blocks.len(), 2, "the walk's two blocks");
    let base = app.url("");
    let script = format!(
        "set -euo pipefail\nTOKEN='{token}'\n{}\necho\necho \"walked: $VISIT\"\n",
        blocks
            .join("\n")
            .replace("http://127.0.0.1:8080", base.trim_end_matches('/'))
    );
    let dir = tempfile::TempDir::new().unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the walk failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // What the comments promise.
    assert!(stdout.contains("\"moveInNotification\""), "determination");
    assert!(stdout.contains("\"valid\":true"), "the completed draft");
    assert!(
        stdout.contains("\"state\":\"submitted\""),
        "the application"
    );
    for pdf in ["visit.pdf", "receipt.pdf"] {
        let bytes = std::fs::read(dir.path().join(pdf)).unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "{pdf}");
    }
    let visit = stdout
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("walked: "))
        .unwrap();
    let closed: serde_json::Value = crate::visits::send(
        &app,
        reqwest::Method::GET,
        &format!("/v1/municipalities/012084/visits/{visit}"),
        &token,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(closed["status"], "closed");
    assert!(closed["submittedAt"].is_string());
}
storage_test!(the_readme_visit_walk_runs_as_written);
