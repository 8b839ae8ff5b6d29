//! `madoguchi link` at the command line: a full file applied with progress, the same file
//! again unchanged, a bad file refused by line (exit 2), and a differential file whose import
//! is killed (SIGKILL) half-way leaving the directory as it was, then applied whole.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use serde_json::Value;
use tempfile::TempDir;

use crate::helpers::{Backend, fresh_postgres_database, madoguchi};
use crate::storage_test;

fn command(dir: &TempDir, url: Option<&str>, args: &[&str]) -> std::process::Command {
    let mut command = madoguchi();
    command.args(args).arg("--data-dir").arg(dir.path());
    if let Some(url) = url {
        command.env("DATABASE_URL", url);
    }
    command
}

fn run(dir: &TempDir, url: Option<&str>, args: &[&str]) -> std::process::Output {
    command(dir, url, args).output().unwrap()
}

fn residents(dir: &TempDir, url: Option<&str>) -> Value {
    let out = run(dir, url, &["link", "imports", "012084", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn a_killed_import_leaves_the_directory_as_it_was(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(fresh_postgres_database().await),
    };
    let url = url.as_deref();
    assert!(run(&dir, url, &["migrate"]).status.success());
    let created = run(
        &dir,
        url,
        &[
            "municipalities",
            "create",
            "--lg-code",
            "012084",
            "--name",
            "北見市",
        ],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    // A full file of 3,000, with progress.
    let full = dir.path().join("full.csv");
    let full_s = full.to_str().unwrap();
    let written = run(
        &dir,
        url,
        &["link", "sample", full_s, "--residents", "3000"],
    );
    assert!(written.status.success());
    let applied = run(
        &dir,
        url,
        &[
            "link",
            "import",
            full_s,
            "--lg-code",
            "012084",
            "--kind",
            "full",
        ],
    );
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(applied.status.success(), "{stderr}");
    assert!(stderr.contains("3000/3000 rows (100%)"), "{stderr}");
    assert!(String::from_utf8_lossy(&applied.stdout).contains("3000 added"));
    let again = run(
        &dir,
        url,
        &[
            "link",
            "import",
            full_s,
            "--lg-code",
            "012084",
            "--kind",
            "full",
            "--json",
        ],
    );
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["unchanged"], true);
    assert_eq!(residents(&dir, url)["residents"], 3000);

    // A bad file: exit 2, the line named, nothing applied.
    let bad = dir.path().join("bad.csv");
    let text = std::fs::read_to_string(&full).unwrap();
    let mut lines: Vec<&str> = text.lines().take(5).collect();
    let mut cells: Vec<&str> = lines[3].split(',').collect();
    cells[9] = "いとこ";
    let broken = cells.join(",");
    lines[3] = &broken;
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let refused = run(
        &dir,
        url,
        &[
            "link",
            "import",
            bad.to_str().unwrap(),
            "--lg-code",
            "012084",
            "--kind",
            "full",
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("4行目 続柄(relationship)"), "{stderr}");
    assert_eq!(residents(&dir, url)["residents"], 3000);

    // A differential file adding 40,000, killed while it applies.
    let bigger = dir.path().join("bigger.csv");
    let big = run(
        &dir,
        url,
        &[
            "link",
            "sample",
            bigger.to_str().unwrap(),
            "--residents",
            "43000",
        ],
    );
    assert!(big.status.success());
    let diff = dir.path().join("diff.csv");
    {
        let text = std::fs::read_to_string(&bigger).unwrap();
        let mut out = std::io::BufWriter::new(std::fs::File::create(&diff).unwrap());
        let mut lines = text.lines();
        writeln!(out, "{}", lines.next().unwrap()).unwrap();
        for line in lines.skip(3000) {
            writeln!(out, "A{line}").unwrap();
        }
    }
    let diff_s = diff.to_str().unwrap();
    let mut child = command(
        &dir,
        url,
        &[
            "link",
            "import",
            diff_s,
            "--lg-code",
            "012084",
            "--kind",
            "diff",
        ],
    )
    .stderr(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut killed_at = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("取込み中 / applying: ") {
            let done: u64 = rest.split('/').next().unwrap().parse().unwrap();
            if done >= 1000 {
                child.kill().unwrap();
                killed_at = Some(done);
                break;
            }
        }
    }
    let status = child.wait().unwrap();
    let killed_at = killed_at.expect("the import was killed while applying");
    assert!(killed_at < 40_000, "killed after {killed_at} rows");
    assert!(!status.success());
    let after = residents(&dir, url);
    assert_eq!(
        after["residents"], 3000,
        "nothing of the killed file: {after}"
    );
    assert_eq!(after["imports"].as_array().unwrap().len(), 1);

    // Run again, it applies whole.
    let whole = run(
        &dir,
        url,
        &[
            "link",
            "import",
            diff_s,
            "--lg-code",
            "012084",
            "--kind",
            "diff",
            "--json",
        ],
    );
    assert!(
        whole.status.success(),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    let whole: Value = serde_json::from_slice(&whole.stdout).unwrap();
    assert_eq!(whole["import"]["added"], 40_000);
    assert_eq!(residents(&dir, url)["residents"], 43_000);
}
storage_test!(a_killed_import_leaves_the_directory_as_it_was);

/// Puts a file into the watched directory as a writer should: under another name, then renamed.
fn drop_file(dir: &std::path::Path, name: &str, text: &str) {
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// Waits until `path` exists.
fn wait_for(path: &std::path::Path) {
    for _ in 0..200 {
        if path.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{} did not appear", path.display());
}

async fn a_watched_directory_applies_files_in_order(backend: Backend) {
    let dir = TempDir::new().unwrap();
    let url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(fresh_postgres_database().await),
    };
    let url = url.as_deref();
    assert!(run(&dir, url, &["migrate"]).status.success());
    assert!(
        run(
            &dir,
            url,
            &[
                "municipalities",
                "create",
                "--lg-code",
                "012084",
                "--name",
                "北見市"
            ]
        )
        .status
        .success()
    );
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let mut watcher = crate::helpers::Running(
        command(
            &dir,
            url,
            &[
                "link",
                "watch",
                inbox.to_str().unwrap(),
                "--lg-code",
                "012084",
                "--interval-ms",
                "100",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let mut full = Vec::new();
    madoguchi::link::sample::write_full(&mut full, "012084", 60).unwrap();
    let full = String::from_utf8(full).unwrap();
    let lines: Vec<&str> = full.lines().collect();
    let header = lines[0];
    let first_50 = lines[..51].join("\n");
    let add = |n: usize| format!("{header}\nA{}\n", lines[n]);

    drop_file(&inbox, "full-0001.csv", &first_50);
    drop_file(&inbox, "diff-0002.csv", &add(51));
    wait_for(&inbox.join("done/diff-0002.csv"));
    assert!(inbox.join("done/full-0001.csv").exists());
    assert_eq!(residents(&dir, url)["residents"], 51);

    // A refused diff (a change of someone not there): reported, and later diffs wait.
    let nobody = madoguchi::link::sample::diff_row("012084", 59, "U");
    drop_file(&inbox, "diff-0003.csv", &format!("{header}\n{nobody}\n"));
    wait_for(&inbox.join("rejected/diff-0003.csv.errors.txt"));
    let report = std::fs::read_to_string(inbox.join("rejected/diff-0003.csv.errors.txt")).unwrap();
    assert!(report.contains("2行目"), "{report}");
    drop_file(&inbox, "diff-0004.csv", &add(52));
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert!(
        inbox.join("diff-0004.csv").exists(),
        "held after a refused diff"
    );
    // A full file settles it; the held diff follows.
    drop_file(&inbox, "full-0005.csv", &lines[..52].join("\n"));
    wait_for(&inbox.join("done/diff-0004.csv"));
    assert_eq!(residents(&dir, url)["residents"], 52);
    watcher.0.kill().unwrap();
}
storage_test!(a_watched_directory_applies_files_in_order);
