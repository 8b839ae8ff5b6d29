//! `madoguchi card verify` as support staff use it on a dump from the field: a practice dump
//! of our synthetic card verifies; a changed 基本4情報, a CVC from another issuer, a trust
//! directory without the CA key or a misnamed file are each named; the 個人番号 is masked
//! unless asked for.

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use tempfile::TempDir;

use madoguchi::card::apdu::{Command, Response, StatusWord};
use madoguchi::card::bridge::SecretKey;
use madoguchi::card::protocol;
use madoguchi::card::transport::{Secret, Transport, TransportError};
use madoguchi::card::trust::Trust;
use madoguchi::card::verify;
use madoguchi::card::vpcd::{ATR, read_frame, write_frame};

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
    // The JPKI certificate of the dump chains to the synthetic root; its signature over a
    // nonce needs the card itself.
    assert!(stdout.contains("passed       jpki.chain"), "{stdout}");
    assert!(stdout.contains("not checked  jpki.signature"), "{stdout}");
    assert!(stdout.contains("not checked  jpki.revocation"), "{stdout}");
    // The card face by the three-digest rule.
    assert!(
        stdout.contains("passed       kenkaku.signature"),
        "{stdout}"
    );

    let json = run(&["card", "verify", &dump, "--trust-dir", &trust, "--json"]);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["passed"], true);
    assert_eq!(
        report["basicInfo"]["address"],
        "北海道北見市北５条東２丁目１０番地"
    );
    assert_eq!(report["caKeyId"], "9000033-001");
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
    assert!(text(&unknown.stderr).contains("cvc/kenhojo/9000033-001.pem"));

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

/// Copies a dump directory (the files of `tests/data/card/jlis-test-card`, say).
fn copy_dump(from: &Path, to: &Path) {
    for app in ["kenhojo", "kenkaku", "jpki"] {
        std::fs::create_dir_all(to.join(app)).unwrap();
        for entry in std::fs::read_dir(from.join(app)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, to.join(app).join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// `FF20 { … }` of a kenhojo EF 0002 with `extra` put before DF22, lengths mended: what a
/// tampered counter PC sends.
fn forged_before_df22(ef: &[u8], extra: &[u8]) -> Vec<u8> {
    use madoguchi::card::tlv::{Reader, encode};
    let record = Reader::new(ef).next().unwrap().unwrap();
    let mut value = Vec::new();
    for child in record.children() {
        let child = child.unwrap();
        if child.tag == 0xDF22 {
            value.extend(extra);
        }
        value.extend(child.raw);
    }
    encode(0xFF20, &value)
}

/// A real card's files (a J-LIS test card, read by someone else: tests/data/card/README.md)
/// verify offline, JPKI certificate included; what a tampered PC or an incomplete dump makes
/// of them fails, each by name, and nothing unsigned is printed.
#[test]
fn a_real_card_dump_verifies_and_its_tampered_copies_are_refused() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/card");
    let trust = data.join("jlis-test-trust");
    let trust = trust.to_str().unwrap();
    let dir = TempDir::new().unwrap();
    let dump = dir.path().join("dump");
    copy_dump(&data.join("jlis-test-card"), &dump);
    let d = dump.to_str().unwrap();

    // As of a day inside the test card's certificate (2025-10-27 to 2030-02-17).
    let ok = run(&[
        "card",
        "verify",
        d,
        "--trust-dir",
        trust,
        "--at",
        "2027-06-01",
    ]);
    let stdout = text(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{stdout}{}", text(&ok.stderr));
    assert!(stdout.contains("黒桐　幹也"), "{stdout}");
    assert!(stdout.contains("東京都清瀬市観布子南１２－７－２０２"));
    assert!(stdout.contains("5376 **** **88"), "masked: {stdout}");
    for passed in [
        "ef0002.digest",
        "ef0001.digest",
        "ef0007.signature",
        "kenkaku.signature",
        "jpki.chain",
        "jpki.policy",
        "jpki.validity",
    ] {
        assert!(
            stdout.contains(&format!("passed       {passed}")),
            "{passed}: {stdout}"
        );
    }

    // A tampered PC's forged 住所, 生年月日 and 性別 before the signed DF22.
    use madoguchi::card::tlv::encode;
    let ef2 = dump.join("kenhojo/0002.bin");
    let original = std::fs::read(&ef2).unwrap();
    let forged = [
        encode(0xDF23, "大阪府大阪市北区中之島１－３－２０".as_bytes()),
        encode(0xDF24, b"20010101"),
        encode(0xDF25, b"2"),
    ]
    .concat();
    std::fs::write(&ef2, forged_before_df22(&original, &forged)).unwrap();
    let tampered = run(&[
        "card",
        "verify",
        d,
        "--trust-dir",
        trust,
        "--json",
        "--at",
        "2027-06-01",
    ]);
    assert_eq!(tampered.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&tampered.stdout).unwrap();
    assert_eq!(report["basicInfo"], Value::Null, "{report}");
    assert!(!text(&tampered.stdout).contains("大阪府"));
    assert!(!text(&tampered.stdout).contains("20010101"));
    let err = text(&tampered.stderr);
    assert!(err.contains("ef0002.digest"), "{err}");
    assert!(err.contains("DF23"), "{err}");

    // The 基本4情報 changed and EF 0003 left out of the dump: the check that would find the
    // change cannot run, and that fails the dump.
    let mut changed = original.clone();
    let at = changed
        .windows(3)
        .position(|w| w == "南".as_bytes())
        .unwrap();
    changed[at + 2] ^= 1;
    std::fs::write(&ef2, changed).unwrap();
    std::fs::remove_file(dump.join("kenhojo/0003.bin")).unwrap();
    let incomplete = run(&[
        "card",
        "verify",
        d,
        "--trust-dir",
        trust,
        "--at",
        "2027-06-01",
    ]);
    assert_eq!(
        incomplete.status.code(),
        Some(2),
        "{}",
        text(&incomplete.stdout)
    );
    assert!(text(&incomplete.stderr).contains("cannot be checked"));
    assert!(text(&incomplete.stdout).contains("not shown"));

    // A production trust directory (J-LIS's published roots, no test keys) trusts nothing of
    // a test card.
    let production = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/card-trust");
    std::fs::write(&ef2, &original).unwrap();
    std::fs::copy(
        data.join("jlis-test-card/kenhojo/0003.bin"),
        dump.join("kenhojo/0003.bin"),
    )
    .unwrap();
    let refused = run(&[
        "card",
        "verify",
        d,
        "--trust-dir",
        production.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("jpki.policy"));
}

/// The far end of vpcd as the bridge's PC/SC calls would reach the card: framed APDUs on the
/// connection the virtual card opened. The PIN is typed here, at the "counter PC".
struct VpcdLink {
    stream: tokio::net::TcpStream,
    pin: String,
}

impl VpcdLink {
    async fn exchange(&mut self, payload: &[u8]) -> Result<Vec<u8>, TransportError> {
        // The card closing its connection is the card leaving the reader.
        let gone = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::UnexpectedEof => TransportError::CardRemoved,
            _ => TransportError::Reader(e.to_string()),
        };
        write_frame(&mut self.stream, payload).await.map_err(gone)?;
        match read_frame(&mut self.stream).await.map_err(gone)? {
            Some(reply) => Ok(reply),
            None => Err(TransportError::CardRemoved),
        }
    }
}

impl Transport for VpcdLink {
    async fn transmit(&mut self, command: &Command) -> Result<Response, TransportError> {
        let reply = self.exchange(&command.to_bytes()).await?;
        Response::parse(&reply).map_err(|e| TransportError::Reader(e.to_string()))
    }

    async fn present(
        &mut self,
        key: SecretKey,
        secret: &Secret,
    ) -> Result<StatusWord, TransportError> {
        // Where the card is: the key selected here, then the VERIFY.
        for command in key.selection() {
            let sw = self.transmit(&command).await?.sw;
            if !sw.is_ok() {
                return Ok(sw);
            }
        }
        let digits = match secret {
            Secret::LocalPin => self.pin.clone(),
            Secret::Digits(d) => d.clone(),
        };
        Ok(self.transmit(&Command::verify(digits.as_bytes())).await?.sw)
    }
}

/// `madoguchi virtual-card --vpcd` inserts its card into a vpcd reader (played here by a
/// listener on 127.0.0.1:0): the ATR, a full kenhojo read with the PIN verified against the
/// trust directory it wrote, and ending the process removes the card.
#[tokio::test]
async fn the_virtual_card_plays_a_card_in_a_vpcd_reader() {
    let dir = TempDir::new().unwrap();
    let trust = dir.path().join("trust");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let mut process = madoguchi()
        .args(["virtual-card", "--vpcd", &address, "--trust-dir"])
        .arg(&trust)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (stream, _) = tokio::time::timeout(std::time::Duration::from_secs(60), listener.accept())
        .await
        .expect("the virtual card connects")
        .unwrap();
    let mut link = VpcdLink {
        stream,
        pin: "1234".to_owned(),
    };
    // Power on (no answer), then the ATR.
    write_frame(&mut link.stream, &[0x01]).await.unwrap();
    assert_eq!(link.exchange(&[0x04]).await.unwrap(), ATR);

    let mut card = protocol::Card::new(link);
    let nonce = b"a nonce the gateway just made....";
    let read = protocol::read_kenhojo(&mut card, &protocol::Access::Pin, false, nonce)
        .await
        .unwrap();
    let trust = Trust::load(&trust).unwrap();
    let report = verify::kenhojo(&read.files, &trust, Some((nonce, &read.challenge)));
    assert!(report.passed(), "{:#?}", report.checks);
    assert_eq!(report.basic_info.unwrap().name, "山田　花子");
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.id == "card.challenge" && c.outcome == verify::Outcome::Passed)
    );

    // JPKI authentication through the same reader: the PIN at the counter PC, the signature
    // over the nonce, the chain to the root the virtual card wrote.
    let (certificate, signature) = protocol::authenticate(&mut card, nonce).await.unwrap();
    let checks = madoguchi::card::jpki::verify(
        &certificate,
        Some((nonce, &signature)),
        &trust,
        &madoguchi::card::jpki::NoRevocation,
        std::time::SystemTime::now(),
    );
    for id in [
        "jpki.signature",
        "jpki.chain",
        "jpki.validity",
        "jpki.keyUsage",
    ] {
        let c = checks.iter().find(|c| c.id == id).unwrap();
        assert_eq!(c.outcome, verify::Outcome::Passed, "{checks:#?}");
    }

    // The card face with 照合番号B (the sample resident's, as docs/card.md gives it).
    let face = protocol::read_kenkaku(&mut card, "55021720361234", nonce)
        .await
        .unwrap();
    let face = verify::kenkaku(&face.files, &trust, Some((nonce, &face.challenge)));
    assert!(face.passed(), "{:#?}", face.checks);
    assert_eq!(
        face.outcome("kenkaku.challenge"),
        Some(verify::Outcome::Passed)
    );

    // The card leaves the reader.
    process.kill().unwrap();
    process.wait().unwrap();
    let mut link = card.into_inner();
    let gone = link.transmit(&Command::retry_counter()).await;
    assert_eq!(gone.unwrap_err(), TransportError::CardRemoved);
}
