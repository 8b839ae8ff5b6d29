//! Printouts read back as a person at the counter would: the PDF opens, the typeface is in
//! it (a machine without Japanese fonts shows the same), and the text says what the visit
//! holds — every form's title and fields, codes by name, days in 和暦, the receipt's
//! procedures, referrals and documents.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, problem, spawn_app};
use crate::pull::{certificate_request, fill_certificate};
use crate::storage_test;
use crate::visits::{VISITS, open_visit, send};

/// A PDF as read back: its pages' text (through the fonts' ToUnicode maps) and its fonts.
struct Pdf {
    pages: usize,
    text: String,
    /// (BaseFont, embedded as a font file).
    fonts: BTreeSet<(String, bool)>,
    /// Runs of Latin letters, digits and `@._-` with a letter in them: on paper a resident
    /// reads, only what a person wrote (a ticket, a staff number), never an identifier or a
    /// JSON name of the gateway's.
    words: BTreeSet<String>,
    /// Width and height in pixels of the images drawn (an image's alpha, a soft mask, is
    /// one more of the same size).
    images: BTreeSet<(i64, i64)>,
}

fn read_pdf(bytes: &[u8]) -> Pdf {
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let doc = lopdf::Document::load_from(bytes).expect("the PDF parses");
    let pages = doc.get_pages();
    let numbers: Vec<u32> = pages.keys().copied().collect();
    let text = doc.extract_text(&numbers).expect("text");
    let mut fonts = BTreeSet::new();
    for id in pages.values() {
        for font in doc.get_page_fonts(*id).unwrap().values() {
            let name = String::from_utf8_lossy(font.get(b"BaseFont").unwrap().as_name().unwrap())
                .into_owned();
            // A Type0 (CID) font keeps its file in the descendant's descriptor.
            let descendant = font
                .get(b"DescendantFonts")
                .and_then(|d| d.as_array())
                .ok()
                .and_then(|a| a.first())
                .and_then(|o| o.as_reference().ok())
                .and_then(|r| doc.get_dictionary(r).ok());
            let descriptor = descendant
                .unwrap_or(font)
                .get(b"FontDescriptor")
                .and_then(|d| d.as_reference())
                .and_then(|r| doc.get_dictionary(r));
            let embedded = descriptor
                .is_ok_and(|d| d.has(b"FontFile2") || d.has(b"FontFile3") || d.has(b"FontFile"));
            fonts.insert((name, embedded));
        }
    }
    let words = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || "@._-".contains(c)))
        .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
        .map(str::to_owned)
        .collect();
    let images = doc
        .objects
        .values()
        .filter_map(|o| o.as_stream().ok())
        .filter(|s| {
            s.dict
                .get(b"Subtype")
                .and_then(|t| t.as_name())
                .is_ok_and(|t| t == b"Image")
        })
        .map(|s| {
            let n = |k: &[u8]| s.dict.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
            (n(b"Width"), n(b"Height"))
        })
        .collect();
    Pdf {
        pages: pages.len(),
        words,
        images,
        // Lines may break anywhere in Japanese: compare without line ends and spaces.
        text: text.chars().filter(|c| !c.is_whitespace()).collect(),
        fonts,
    }
}

fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

async fn get_pdf(app: &TestApp, path: &str, token: &str) -> Pdf {
    let r = send(app, Method::GET, path, token, None).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline; filename=")
    );
    let bytes = r.bytes().await.unwrap();
    // SAVE_PRINTOUTS=DIR keeps the PDFs to look at.
    if let Ok(dir) = std::env::var("SAVE_PRINTOUTS") {
        let name = path.trim_start_matches(VISITS).replace('/', "_");
        std::fs::write(
            std::path::Path::new(&dir).join(format!("{name}.pdf")),
            &bytes,
        )
        .unwrap();
    }
    read_pdf(&bytes)
}

fn assert_typeface_embedded(pdf: &Pdf) {
    assert!(!pdf.fonts.is_empty());
    for (name, embedded) in &pdf.fonts {
        assert!(*embedded, "font {name} is not embedded");
        // Subset-tagged (ABCDEF+…): only the glyphs used travel with the file.
        assert!(name.ends_with("+BIZUDGothic-Regular"), "{name}");
    }
}

/// The family of four moving in: every form and the receipt in one PDF, said as the visit's
/// own data says it.
async fn a_visits_forms_and_receipt_print_as_one_pdf(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas/conformance/scenarios/visits/1-move-in-family-of-four.json");
    let scenario: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let id = open_visit(&app, &token, &scenario["visit"]).await;
    let at = |p: &str| format!("{VISITS}/{id}/{p}");
    // Before the answers, the receipt says what is still to be decided and why.
    let early = get_pdf(&app, &at("receipt"), &token).await;
    assert!(early.text.contains("まだ決まっていない手続"));
    assert!(early.text.contains("次の事項が分かると判定できます"));
    for step in scenario["steps"].as_array().unwrap() {
        if let Some(answers) = step.get("answer") {
            let r = send(
                &app,
                Method::POST,
                &at("answers"),
                &token,
                Some(&json!({"answers": answers})),
            )
            .await;
            assert_eq!(r.status(), StatusCode::OK);
        }
    }
    let drafts: Value = send(&app, Method::GET, &at("drafts"), &token, None)
        .await
        .json()
        .await
        .unwrap();
    let drafts = drafts["drafts"].as_array().unwrap().clone();
    assert!(drafts.len() >= 5, "the move-in makes several forms");
    let d: Value = send(&app, Method::GET, &at("determination"), &token, None)
        .await
        .json()
        .await
        .unwrap();

    let all = get_pdf(&app, &at("printouts"), &token).await;
    assert_typeface_embedded(&all);
    // Each form starts on its own page, the receipt too.
    assert!(all.pages > drafts.len(), "{} pages", all.pages);
    for draft in &drafts {
        let title = draft["formTitle"].as_str().unwrap();
        assert!(all.text.contains(&compact(title)), "{title}");
    }
    assert!(all.text.contains("受付票"));
    // Names as the clerk typed them; codes by their Japanese label; days in 和暦.
    for m in scenario["visit"]["members"].as_array().unwrap() {
        let name = format!(
            "{}{}",
            m["familyName"].as_str().unwrap(),
            m["givenName"].as_str().unwrap()
        );
        assert!(all.text.contains(&name), "{name}");
    }
    assert!(
        all.text.contains("異動の種別転入"),
        "residentMove's notificationType reads 転入"
    );
    assert!(!all.text.contains("moveIn"), "no code is printed raw");
    assert!(
        all.text.contains("性別男") && all.text.contains("性別女"),
        "sex 1 and 2"
    );
    assert!(all.text.contains("令和8年12月1日"), "the day of the move");
    assert!(all.text.contains("確認用"), "not yet signed");
    assert!(all.text.contains("届出人署名"));
    assert!(all.images.is_empty(), "no signature yet");
    // Nothing on paper a resident reads is an identifier of the gateway's: the visit's id,
    // the catalogue's version, a form's schema and version, a JSON name. The ticket is.
    assert_eq!(
        all.words,
        BTreeSet::from(["A-001".to_owned()]),
        "only the ticket is Latin"
    );

    // The receipt on its own: what is done here, where to go next, what to bring.
    let receipt = get_pdf(&app, &at("receipt"), &token).await;
    assert_typeface_embedded(&receipt);
    assert!(receipt.text.contains("受付票"));
    assert!(receipt.text.contains("受付番号A-001"));
    let needed = d["needed"].as_array().unwrap();
    for p in needed {
        let name = compact(p["name"].as_str().unwrap());
        assert!(receipt.text.contains(&name), "{name} is on the receipt");
        if p["handling"]["mode"] == "referral" {
            let to = compact(p["handling"]["to"].as_str().unwrap());
            assert!(receipt.text.contains(&to), "go next to {to}");
        }
        for doc in p["documents"].as_array().unwrap() {
            let doc = compact(doc.as_str().unwrap());
            assert!(receipt.text.contains(&doc), "bring {doc}");
        }
    }
    assert!(
        needed.iter().any(|p| p["handling"]["mode"] == "referral"),
        "the scenario has a referral to check"
    );

    // One form alone, and a key that is not a draft of the visit.
    let key = drafts[0]["key"].as_str().unwrap();
    let one = get_pdf(&app, &at(&format!("drafts/{key}/pdf")), &token).await;
    assert!(
        one.text
            .contains(&compact(drafts[0]["formTitle"].as_str().unwrap()))
    );
    assert!(!one.text.contains("受付票"));
    let missing = send(
        &app,
        Method::GET,
        &at("drafts/noSuchProcedure@0/pdf"),
        &token,
        None,
    )
    .await;
    problem(missing, StatusCode::NOT_FOUND, "not_found").await;

    // Each print is recorded with the clerk who printed it.
    let auditor = app.register_client(&["audit:read"], &["012084"]).await;
    let auditor = app.token_for(&auditor.id, &auditor.secret).await;
    let events: Value = app
        .get_json("/v1/municipalities/012084/audit-events?limit=100", &auditor)
        .await;
    let prints: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == id && e["action"] == "visit.print")
        .collect();
    assert_eq!(prints.len(), 5, "{events}");
    assert!(prints.iter().all(|e| e["actor"] == "clerk-0042"));
}
storage_test!(a_visits_forms_and_receipt_print_as_one_pdf);

/// Before the signature a form says what still needs checking; after it, the confirmed
/// document with how it was signed, and the receipt says the procedures were received. A name
/// character the typeface lacks prints as 〓 with a note, never as a blank.
async fn signed_forms_print_as_confirmed_and_unprintable_characters_are_flagged(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let body = certificate_request("𠮷田", "ヨシダ", "B-7");
    let id = open_visit(&app, &token, &body).await;
    let at = |p: &str| format!("{VISITS}/{id}/{p}");
    let key = "residentRecordCopy@0";

    let draft = get_pdf(&app, &at(&format!("drafts/{key}/pdf")), &token).await;
    assert!(draft.text.contains("確認用"));
    assert!(
        draft.text.contains("確認が必要な項目"),
        "the purpose is still missing"
    );
    assert!(draft.text.contains("〓田修"), "𠮷 is not in the typeface");
    assert!(
        draft.text.contains("U+20BB7"),
        "the note names the character"
    );
    assert!(
        draft.text.contains("証明書の種類住民票の写し"),
        "residentRecordCopy by its name"
    );
    assert!(draft.text.contains("昭和45年1月1日"), "born 1970-01-01");

    fill_certificate(&app, &token, &id).await;
    let r = send(
        &app,
        Method::POST,
        &at("confirm"),
        &token,
        Some(&json!({"method": "attestation"})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = send(&app, Method::POST, &at("submit"), &token, None).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let signed = get_pdf(&app, &at(&format!("drafts/{key}/pdf")), &token).await;
    assert!(!signed.text.contains("確認用"));
    assert!(!signed.text.contains("確認が必要な項目"));
    assert!(signed.text.contains("勤務先提出"), "the clerk's entry");
    assert!(signed.text.contains("署名済み"));
    assert!(
        signed.text.contains("clerk-0042"),
        "who attested the signature"
    );
    let receipt = get_pdf(&app, &at("receipt"), &token).await;
    assert!(receipt.text.contains("受付済み"));
    assert!(!receipt.text.contains("受付できなかった"));
    assert!(receipt.text.contains("受付番号B-7"));
    assert!(receipt.text.contains("手数料"), "a certificate has a fee");
    assert!(receipt.text.contains("1件の届書を作成"));

    // Another municipality's client sees nothing of it.
    app.register_municipality("131016", "千代田区").await;
    let chiyoda = app.register_client(&["visits"], &["131016"]).await;
    let chiyoda = app.token_for(&chiyoda.id, &chiyoda.secret).await;
    let r = send(&app, Method::GET, &at("receipt"), &chiyoda, None).await;
    problem(r, StatusCode::FORBIDDEN, "municipality_forbidden").await;
}
storage_test!(signed_forms_print_as_confirmed_and_unprintable_characters_are_flagged);

/// The signature the resident wrote on the pad is printed on the signed form, as an image
/// (here one written by another program, CPython's test PNG, 16 × 16). When the core system
/// then rejects the application, the receipt printed after says so and why, not 受付済み.
async fn the_signature_is_printed_and_a_rejection_is_on_the_receipt(backend: Backend) {
    use base64::Engine;
    let app = spawn_app(backend).await;
    let token = app.demo_token().await;
    let id = open_visit(&app, &token, &certificate_request("田中", "タナカ", "C-12")).await;
    let at = |p: &str| format!("{VISITS}/{id}/{p}");
    let key = "residentRecordCopy@0";
    fill_certificate(&app, &token, &id).await;
    let png = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/images/python.png"),
    )
    .unwrap();
    let png = base64::engine::general_purpose::STANDARD.encode(png);
    let r = send(
        &app,
        Method::POST,
        &at("confirm"),
        &token,
        Some(&json!({"method": "signature", "signature": {"mediaType": "image/png", "data": png}})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    let signed = get_pdf(&app, &at(&format!("drafts/{key}/pdf")), &token).await;
    assert!(signed.text.contains("署名済み"));
    assert!(
        signed.images.contains(&(16, 16)),
        "the pad's image is on the form: {:?}",
        signed.images
    );
    assert_eq!(
        signed.words,
        BTreeSet::from(["C-12".to_owned()]),
        "no hash, id or schema name on paper"
    );

    let r = send(&app, Method::POST, &at("submit"), &token, None).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let before = get_pdf(&app, &at("receipt"), &token).await;
    assert!(before.text.contains("受付済み"));

    // The core system pulls the application and rejects it with its reason.
    let core = app.register_client(&["link"], &["012084"]).await;
    let core = app.token_for(&core.id, &core.secret).await;
    let applications: Value = send(&app, Method::GET, &at("applications"), &token, None)
        .await
        .json()
        .await
        .unwrap();
    let application = &applications["items"][0];
    let area = application["area"].as_str().unwrap();
    let reason = "請求者と本人の関係を確認できません。";
    let r = app
        .http
        .post(app.url(&format!(
            "/v1/municipalities/012084/link/{area}/applications/{}/ack",
            application["id"].as_str().unwrap()
        )))
        .bearer_auth(&core)
        .json(&json!({"outcome": "rejected", "reason": reason}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let after = get_pdf(&app, &at("receipt"), &token).await;
    assert!(
        !after.text.contains("受付済み"),
        "a rejected application is not received"
    );
    assert!(after.text.contains("受付できなかった手続"));
    assert!(
        after.text.contains(&compact(reason)),
        "the core system's reason"
    );
    assert!(after.text.contains("住民票の写し"));
}
storage_test!(the_signature_is_printed_and_a_rejection_is_on_the_receipt);
