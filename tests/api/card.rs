//! `madoguchi card verify` as support staff use it on a dump from the field: a practice dump
//! of our synthetic card verifies; a changed 基本4情報, a CVC from another issuer, a trust
//! directory without the CA key or a misnamed file are each named; the 個人番号 is masked
//! unless asked for.

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use tempfile::TempDir;

use crate::helpers::madoguchi;

fn run(args: &[&str]) -> Output {
    madoguchi().args(args).output().expect("run madoguchi")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A practice dump and its trust directory, made by the CLI.
fn practice(dir: &Path, name: &str, lg_code: &str) -> (String, String) {
    let dump = dir.join(name).join("dump");
    let trust = dir.join(name).join("trust");
    let (d, t) = (dump.to_str().unwrap(), trust.to_str().unwrap());
    let out = run(&[
        "card",
        "make-test-dump",
        d,
        "--trust-dir",
        t,
        "--lg-code",
        lg_code,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (d.to_owned(), t.to_owned())
}

#[test]
fn a_card_dump_is_verified_and_every_failure_is_named() {
    let dir = TempDir::new().unwrap();
    let (dump, trust) = practice(dir.path(), "a", "012084");

    let ok = run(&["card", "verify", &dump, "--trust-dir", &trust]);
    let stdout = text(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{stdout}{}", text(&ok.stderr));
    assert!(
        stdout.contains("山田　花子"),
        "the name byte for byte: {stdout}"
    );
    assert!(stdout.contains("1980-02-17"));
    assert!(stdout.contains("1234 **** **18"), "masked: {stdout}");
    assert!(!stdout.contains("123456789018"));
    assert!(stdout.contains("not checked  card.challenge"));

    let json = run(&["card", "verify", &dump, "--trust-dir", &trust, "--json"]);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["passed"], true);
    assert_eq!(
        report["basicInfo"]["address"],
        "北海道北見市北５条東２丁目１０番地"
    );
    assert_eq!(report["caKeyId"], "9000033");
    assert_eq!(report["myNumber"], "1234 **** **18");
    let shown = run(&[
        "card",
        "verify",
        &dump,
        "--trust-dir",
        &trust,
        "--json",
        "--show-my-number",
    ]);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["myNumber"], "123456789018");

    // The address changed after issue: 北５条 → 北６条.
    let ef2 = Path::new(&dump).join("kenhojo/0002.bin");
    let original = std::fs::read(&ef2).unwrap();
    let five = "５".as_bytes();
    let at = original.windows(3).position(|w| w == five).unwrap();
    let mut changed = original.clone();
    changed[at + 2] += 1;
    std::fs::write(&ef2, &changed).unwrap();
    let tampered = run(&["card", "verify", &dump, "--trust-dir", &trust]);
    assert_eq!(tampered.status.code(), Some(2));
    let err = text(&tampered.stderr);
    assert!(err.contains("ef0002.digest"), "{err}");
    assert!(err.contains("DF32 does not match EF 0002"), "{err}");
    std::fs::write(&ef2, &original).unwrap();

    // Another issuer's CVC in place of this card's: EF 0003 no longer verifies.
    let (other, other_trust) = practice(dir.path(), "b", "131016");
    std::fs::copy(
        Path::new(&other).join("kenhojo/0004.bin"),
        Path::new(&dump).join("kenhojo/0004.bin"),
    )
    .unwrap();
    let swapped = run(&["card", "verify", &dump, "--trust-dir", &other_trust]);
    assert_eq!(swapped.status.code(), Some(2));
    assert!(text(&swapped.stderr).contains("ef0003.signature"));

    // A trust directory without the CA key.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(empty.join("cvc")).unwrap();
    let unknown = run(&[
        "card",
        "verify",
        &other,
        "--trust-dir",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("cvc/9000033.pem"));

    // A file not named by its FID is refused by name, never skipped.
    std::fs::write(Path::new(&other).join("kenhojo/basic.bin"), b"x").unwrap();
    let misnamed = run(&["card", "verify", &other, "--trust-dir", &other_trust]);
    assert_eq!(misnamed.status.code(), Some(1));
    assert!(text(&misnamed.stderr).contains("basic.bin"));
    let nothing = run(&[
        "card",
        "verify",
        empty.to_str().unwrap(),
        "--trust-dir",
        &trust,
    ]);
    assert_eq!(nothing.status.code(), Some(1));
    assert!(text(&nothing.stderr).contains("not a card dump"));
}
