//! `madoguchi card verify` and `make-test-dump`: support staff check a card dump recorded in
//! the field against the municipality's trust directory, offline.

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use super::{CardCommand, VirtualCardArgs, print_json};
use crate::card::files::Dump;
use crate::card::jpki::CrlDirectory;
use crate::card::synth::EF_JPKI_AUTH_CERT;
use crate::card::synth::{Issuer, JpkiIssuer, Resident, SYNTH_CA_ID};
use crate::card::trust::{CvcApplication, Trust};
use crate::card::verify::{self, Outcome, mask};

pub fn run(command: CardCommand) -> Result<ExitCode, String> {
    match command {
        CardCommand::Verify {
            dump,
            trust_dir,
            json,
            show_my_number,
            at,
        } => verify_dump(&dump, &trust_dir, json, show_my_number, at),
        CardCommand::MakeTestDump {
            dump,
            trust_dir,
            lg_code,
        } => make_test_dump(&dump, &trust_dir, &lg_code),
    }
}

fn sex_label(code: &str) -> &'static str {
    match code {
        "1" => "男",
        "2" => "女",
        "9" => "適用不能",
        _ => "?",
    }
}

/// Noon (JST) of `day`, or now.
fn as_of(day: Option<chrono::NaiveDate>) -> std::time::SystemTime {
    day.and_then(|d| d.and_hms_opt(3, 0, 0))
        .and_then(|t| u64::try_from(t.and_utc().timestamp()).ok())
        .map_or_else(std::time::SystemTime::now, |s| {
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(s)
        })
}

fn verify_dump(
    dir: &Path,
    trust_dir: &Path,
    json: bool,
    show: bool,
    at: Option<chrono::NaiveDate>,
) -> Result<ExitCode, String> {
    let trust = Trust::load(trust_dir).map_err(|e| e.to_string())?;
    let dump = Dump::read(dir).map_err(|e| e.to_string())?;
    if dump.kenhojo.0.is_empty()
        && dump.kenkaku.0.is_empty()
        && dump.jpki.get(EF_JPKI_AUTH_CERT).is_none()
    {
        return Err(format!(
            "{}: no kenhojo/ or kenkaku/ files and no jpki/000A: nothing this version checks",
            dir.display()
        ));
    }
    let mut report = verify::kenhojo(&dump.kenhojo, &trust, None);
    if dump.kenhojo.0.is_empty() {
        report.checks.clear();
    }
    if !dump.kenkaku.0.is_empty() {
        let face = verify::kenkaku(&dump.kenkaku, &trust, None);
        report.card_face = face.card_face;
        report.checks.extend(face.checks);
    }
    if let Some(raw) = dump.jpki.get(EF_JPKI_AUTH_CERT) {
        // The certificate is followed by padding: its length is in its DER header.
        let certificate = crate::card::jpki::without_padding(raw);
        let crls = CrlDirectory(trust_dir.join("jpki-crl"));
        report.checks.extend(crate::card::jpki::verify(
            certificate,
            None,
            &trust,
            &crls,
            as_of(at),
        ));
    }
    let number = report
        .my_number
        .as_deref()
        .map(|n| if show { n.to_owned() } else { mask(n) });
    let passed = report.passed();
    if json {
        let mut value = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        if let Some(object) = value.as_object_mut() {
            object.insert("myNumber".to_owned(), json!(number));
            object.insert("passed".to_owned(), json!(passed));
        }
        print_json(&value)?;
    } else {
        println!("card dump {}", dir.display());
        match &report.basic_info {
            Some(b) => {
                println!("基本4情報 (kenhojo EF 0002):");
                println!("  氏名      {}", b.name);
                println!("  住所      {}", b.address);
                println!(
                    "  生年月日  {}",
                    b.birth_date()
                        .map_or_else(|| b.date_of_birth.clone(), |d| d.to_string())
                );
                println!("  性別      {} ({})", b.sex, sex_label(&b.sex));
            }
            None if dump
                .kenhojo
                .get(crate::card::kenhojo::EF_BASIC_INFO)
                .is_some() =>
            {
                println!("基本4情報: not shown: no verified signature covers EF 0002")
            }
            None => println!("基本4情報: not in the dump"),
        }
        if let Some(face) = &report.card_face {
            println!(
                "券面 (kenkaku EF 0002): 生年月日 {}, 性別 {}",
                face.date_of_birth, face.sex
            );
        }
        let unverified = dump
            .kenhojo
            .get(crate::card::kenhojo::EF_MY_NUMBER)
            .is_some();
        println!(
            "個人番号 (EF 0001): {}",
            number.as_deref().unwrap_or(if unverified {
                "not shown: no verified signature covers EF 0001"
            } else {
                "not in the dump"
            })
        );
        if let (Some(ca), Some(signer)) = (&report.ca_key_id, &report.signer_key_id) {
            println!("CA key {ca}, data-signing key {signer}");
        }
        for c in &report.checks {
            let word = match c.outcome {
                Outcome::Passed => "passed",
                Outcome::Failed => "FAILED",
                Outcome::NotChecked => "not checked",
            };
            println!("  {word:<12} {:<17} {}", c.id, c.detail);
        }
    }
    if passed {
        return Ok(ExitCode::SUCCESS);
    }
    for c in report.failed() {
        eprintln!("madoguchi: {} failed: {}", c.id, c.detail);
    }
    if report.failed().next().is_none() {
        eprintln!("madoguchi: nothing in the dump could be checked");
    }
    Ok(ExitCode::from(2))
}

/// A synthetic card of the sample resident with its JPKI application, and the two issuers.
fn synthetic(lg_code: &str) -> Result<(crate::card::synth::Card, Issuers), String> {
    let e = |e: crate::card::synth::SynthError| e.to_string();
    let resident = Resident::sample();
    let kenhojo = Issuer::generate(lg_code).map_err(e)?;
    let mut card = kenhojo.card(&resident).map_err(e)?;
    let kenkaku = Issuer::generate_for(SYNTH_FACE_CA_ID, lg_code).map_err(e)?;
    let expiry = chrono::NaiveDate::from_ymd_opt(SAMPLE_EXPIRY_YEAR, 2, 17).unwrap_or_default();
    kenkaku
        .enrol_kenkaku(&mut card, &resident, expiry)
        .map_err(e)?;
    let jpki = JpkiIssuer::generate("JPKI-TEST-SYNTH Root 9").map_err(e)?;
    jpki.enrol(&mut card, 1, (2025, 2035)).map_err(e)?;
    Ok((
        card,
        Issuers {
            kenhojo,
            kenkaku,
            jpki,
        },
    ))
}

/// The synthetic issuers of one practice card.
struct Issuers {
    kenhojo: Issuer,
    kenkaku: Issuer,
    jpki: JpkiIssuer,
}

/// The trust directory that verifies a synthetic card: `cvc/kenhojo/9000033-001.pem`,
/// `cvc/kenkaku/9000023-001.pem`, `jpki/synth-root.der`, and `jpki-policies.txt` accepting
/// the test policy the synthetic certificates carry.
fn write_synthetic_trust(trust: &Path, issuers: &Issuers) -> Result<(), String> {
    let write = |path: std::path::PathBuf, bytes: &[u8]| -> Result<(), String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))
    };
    for (app, issuer) in [
        (CvcApplication::Kenhojo, &issuers.kenhojo),
        (CvcApplication::Kenkaku, &issuers.kenkaku),
    ] {
        let pem = issuer.ca_public_pem().map_err(|e| e.to_string())?;
        write(
            trust
                .join("cvc")
                .join(app.dir())
                .join(format!("{}.pem", issuer.ca_ref())),
            pem.as_bytes(),
        )?;
    }
    write(
        trust.join("jpki-policies.txt"),
        format!(
            "# The synthetic card's 利用者証明用 policy (the J-LIS test hierarchy's): practice only.\n{}\n",
            crate::card::synth::SYNTH_AUTH_POLICY
        )
        .as_bytes(),
    )?;
    write(
        trust.join("jpki").join("synth-root.der"),
        issuers.jpki.root_der(),
    )
}

fn make_test_dump(dir: &Path, trust_dir: &Path, lg_code: &str) -> Result<ExitCode, String> {
    let (card, issuers) = synthetic(lg_code)?;
    card.dump.write(dir).map_err(|e| e.to_string())?;
    write_synthetic_trust(trust_dir, &issuers)?;
    println!(
        "wrote a synthetic card's kenhojo, kenkaku and JPKI files to {} and the keys that verify them to {} (test keys of our own: never trust them in production)",
        dir.display(),
        trust_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Our synthetic CVC CA key id for kenkaku (J-LIS: 5000023, test 6000023).
const SYNTH_FACE_CA_ID: &str = "9000023";

/// The sample resident's card expires in this year and shows this security code.
const SAMPLE_EXPIRY_YEAR: i32 = 2036;
const SAMPLE_SECURITY_CODE: &str = "1234";

fn era_table() -> Result<crate::forms::era::EraTable, String> {
    let files = crate::forms::SchemaSource::Embedded
        .files()
        .map_err(|(f, p)| format!("{f}: {p}"))?;
    let eras = files
        .iter()
        .find(|f| f.path == "reference/eras.json")
        .ok_or("the era table is missing")?;
    crate::forms::era::EraTable::parse(&eras.text)
}

/// The virtual card to play: the card recorded in `dump`, or a synthetic card of the sample
/// resident whose CA keys are written to `trust_dir`. Returns it with a description.
pub fn practice_card(
    dump: Option<&Path>,
    trust_dir: Option<&Path>,
    pin: &str,
    matching_b: Option<&str>,
) -> Result<(crate::card::virtual_card::VirtualCard, String), String> {
    use crate::card::synth::Card;
    use crate::card::virtual_card::VirtualCard;

    let (card, matching_b, my_number, who) = match dump {
        Some(dir) => {
            let dump = Dump::read(dir).map_err(|e| e.to_string())?;
            let my_number = dump
                .kenhojo
                .get(crate::card::kenhojo::EF_MY_NUMBER)
                .and_then(|ef| crate::card::kenhojo::my_number(ef).ok())
                .unwrap_or_default();
            let who = format!("the card recorded in {}", dir.display());
            (
                Card {
                    dump,
                    card_key: None,
                    face_key: None,
                    auth_key: None,
                },
                matching_b.map(str::to_owned).unwrap_or_default(),
                my_number,
                who,
            )
        }
        None => {
            let resident = Resident::sample();
            let (card, issuers) = synthetic("012084")?;
            if let Some(trust) = trust_dir {
                write_synthetic_trust(trust, &issuers)?;
            }
            let matching_b = crate::card::kenhojo::matching_number_b(
                &era_table()?,
                resident.date_of_birth,
                SAMPLE_EXPIRY_YEAR,
                SAMPLE_SECURITY_CODE,
            )
            .ok_or("照合番号B of the sample resident")?;
            let who = format!(
                "a synthetic card of {} (test CA {SYNTH_CA_ID}; 照合番号B {matching_b})",
                resident.name
            );
            (card, matching_b, resident.my_number, who)
        }
    };
    Ok((VirtualCard::new(card, pin, &matching_b, &my_number), who))
}

pub async fn virtual_card(args: VirtualCardArgs) -> Result<ExitCode, String> {
    let (mut virtual_card, who) = practice_card(
        args.dump.as_deref(),
        args.trust_dir.as_deref(),
        &args.pin,
        args.matching_b.as_deref(),
    )?;
    let stream = tokio::net::TcpStream::connect(&args.vpcd)
        .await
        .map_err(|e| {
            format!(
                "vpcd at {}: {e} (is pcscd running with vsmartcard-vpcd?)",
                args.vpcd
            )
        })?;
    println!("inserted {who} into the vpcd reader at {}", args.vpcd);
    let answered = crate::card::vpcd::serve(&mut virtual_card, stream)
        .await
        .map_err(|e| format!("vpcd at {}: {e}", args.vpcd))?;
    println!("removed: vpcd closed the connection after {answered} commands");
    Ok(ExitCode::SUCCESS)
}
