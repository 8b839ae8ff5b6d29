//! The walks of the README and the guides in `docs/` run as they are written: every `sh` block
//! of a section is joined into one bash script, its `http://127.0.0.1:8080` pointed at a live
//! gateway, and run with `set -euo pipefail` (each `curl` has `--fail-with-body`), so a walk
//! that stops working fails here rather than in a vendor's hands.

use std::path::Path;

use crate::helpers::{Backend, spawn_app};
use crate::storage_test;

/// A document of the repository: `README.md` or a guide such as `docs/visits.md`.
fn doc(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `sh` blocks of the section headed `heading` (a whole line), in order.
fn sh_blocks(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("no section {heading:?}"));
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

async fn the_visit_walk_runs_as_written(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let blocks = sh_blocks(&doc("docs/visits.md"), "## A walk through a visit");
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
storage_test!(the_visit_walk_runs_as_written);

/// The README's first call, with the demo client the gateway made: a token, the demo
/// municipality, and one 和暦 date normalized.
async fn the_readme_first_call_runs_as_written(backend: Backend) {
    let app = spawn_app(backend).await;
    let blocks = sh_blocks(&doc("README.md"), "## A first call");
    assert_eq!(blocks.len(), 1, "the first call's block");
    let script = format!(
        "set -euo pipefail\nCLIENT_ID='{}'\nCLIENT_SECRET='{}'\n{}\n",
        app.demo.client_id,
        app.demo.client_secret,
        blocks[0].replace("http://127.0.0.1:8080", app.url("").trim_end_matches('/'))
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"lgCode\":\"012084\""), "{stdout}");
    assert!(stdout.contains("\"value\":\"2019-05-01\""), "{stdout}");
}
storage_test!(the_readme_first_call_runs_as_written);

/// A free port on the loopback, for a process the test starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The core-system simulator's demo, as docs/link.md writes it: the simulator and a gateway
/// started with the guide's `madoguchi.toml` (the built binary for `target/release/madoguchi`,
/// free ports for 8790 and 8080, the gateway's output to a file instead of the terminal), the
/// walk's 住民票の写し, and the guide's check that the simulated core system accepted it.
#[test]
fn the_core_sim_demo_runs_as_written() {
    let demo = sh_blocks(&doc("docs/link.md"), "## A core-system simulator");
    assert_eq!(demo.len(), 2, "the demo's two blocks");
    let walk = sh_blocks(&doc("docs/visits.md"), "## A walk through a visit");
    let (sim, gateway) = (free_port(), free_port());
    let start = demo[0]
        .replace("target/release/madoguchi", "\"$MADOGUCHI\"")
        .replace("127.0.0.1:8790", &format!("127.0.0.1:{sim}"));
    let start = start
        .lines()
        .map(|line| {
            if line.trim_end().ends_with(" serve") {
                format!(
                    "{line} --bind 127.0.0.1:{gateway} --data-dir \"$PWD/data\" > serve.log 2>&1 &"
                )
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        start.contains("> serve.log"),
        "the block starts the gateway: {start}"
    );
    let base = format!("http://127.0.0.1:{gateway}");
    // The guide tells the reader to take a token as the gateway printed it: the test reads the
    // demo client from the gateway's output.
    let token = r#"
for _ in $(seq 1 150); do grep -q 'client_secret' serve.log 2>/dev/null && break; sleep 0.2; done
ID=$(sed -n 's/^ *client_id: *//p' serve.log | head -n 1)
SECRET=$(sed -n 's/^ *client_secret: *//p' serve.log | head -n 1)
TOKEN=$(curl -s --fail-with-body -u "$ID:$SECRET" -d grant_type=client_credentials \
  http://127.0.0.1:8080/oauth/token | grep -o '"access_token":"[^"]*"' | cut -d'"' -f4)
"#;
    let check = format!(
        "for _ in $(seq 1 100); do\n  OUT=$({})\n  case \"$OUT\" in *'\"state\":\"accepted\"'*) break;; esac\n  sleep 0.2\ndone\necho \"$OUT\"\n",
        demo[1]
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let script = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{start}\n{token}\n{}\n{check}",
        walk.join("\n")
    )
    .replace("http://127.0.0.1:8080", &base);
    let dir = tempfile::TempDir::new().unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("MADOGUCHI", env!("CARGO_BIN_EXE_madoguchi"))
        .env_remove("DATABASE_URL")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "the demo failed ({}):\n{stdout}\n{stderr}\ngateway:\n{log}",
        out.status
    );
    // What the guide promises: the simulated core system accepted the certificate request.
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.contains("\"procedureId\":\"residentRecordCopy\"")
            && last.contains("\"state\":\"accepted\""),
        "{stdout}\n{stderr}\ngateway:\n{log}"
    );
}
