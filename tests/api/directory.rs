//! The resident directory end to end: municipal IT sends 住民記録 full and differential files
//! through the admin API; bad files are refused by line and change nothing; a clerk looks the
//! resident up for a visit (kana folding, 和暦 dates, names byte for byte) and attaches them,
//! and the visit's facts carry the source `registry`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, problem, spawn_app};
use crate::storage_test;
use madoguchi::link::sample;

/// Sends a file; follows the job until it ends; returns it.
async fn import(app: &TestApp, token: &str, kind: &str, csv: &str) -> Value {
    let sent = app
        .http
        .post(app.url(&format!(
            "/v1/admin/resident-imports?lgCode=012084&kind={kind}"
        )))
        .bearer_auth(token)
        .header("Content-Type", "text/csv; charset=utf-8")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let location = sent.headers()["location"].to_str().unwrap().to_owned();
    for _ in 0..200 {
        let job = app.get_json(&location, token).await;
        if job["state"] != "running" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the import at {location} did not end");
}

fn full_file(residents: u64) -> String {
    let mut out = Vec::new();
    sample::write_full(&mut out, "012084", residents).unwrap();
    String::from_utf8(out).unwrap()
}

fn header() -> String {
    format!(
        "operation,{}",
        sample::header().trim_start_matches("operation,")
    )
}

async fn directory(app: &TestApp, token: &str) -> Value {
    app.get_json("/v1/admin/resident-imports?lgCode=012084", token)
        .await
}

struct Clerk<'a> {
    app: &'a TestApp,
    token: String,
    visit: String,
}

impl Clerk<'_> {
    async fn search(&self, query: &[(&str, &str)]) -> reqwest::Response {
        let mut q: Vec<(&str, &str)> = vec![("visitId", &self.visit)];
        q.extend_from_slice(query);
        self.app
            .http
            .get(self.app.url("/v1/municipalities/012084/residents"))
            .query(&q)
            .bearer_auth(&self.token)
            .header("Madoguchi-Actor", "clerk-0042")
            .send()
            .await
            .unwrap()
    }

    async fn found(&self, query: &[(&str, &str)]) -> Vec<Value> {
        let response = self.search(query).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["items"].as_array().unwrap().clone()
    }
}

async fn the_directory_is_imported_searched_and_attached(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_token().await;

    // A full file of 40 made-up residents.
    let job = import(&app, &admin, "full", &full_file(40)).await;
    assert_eq!(job["state"], "applied", "{job}");
    assert_eq!(job["rowsDone"], 40);
    assert_eq!(job["rowsTotal"], 40);
    assert_eq!(job["import"]["added"], 40);
    assert_eq!(directory(&app, &admin).await["residents"], 40);
    // The same file again changes nothing.
    let again = import(&app, &admin, "full", &full_file(40)).await;
    assert_eq!(again["state"], "unchanged", "{again}");
    assert_eq!(again["import"]["importId"], job["import"]["importId"]);

    // Bad files: each problem by line and column, nothing applied.
    // A header that is not the layout, or a body that is no CSV at all, is refused at once
    // (422 naming what is wrong), not accepted as a job that can only fail.
    for body in ["lgCode,name\n012084,山田\n", "{}"] {
        let sent = app
            .http
            .post(app.url("/v1/admin/resident-imports?lgCode=012084&kind=full"))
            .bearer_auth(&admin)
            .header("Content-Type", "text/csv")
            .body(body)
            .send()
            .await
            .unwrap();
        let p = problem(sent, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        let messages = p["errors"].to_string();
        assert!(messages.contains("addresseeNumber"), "{body}: {p}");
        assert!(p["errors"][0]["code"] == "invalid_header", "{p}");
    }
    assert_eq!(directory(&app, &admin).await["residents"], 40);
    let good = sample::diff_row("012084", 0, "");
    let row = |edit: &dyn Fn(&mut Vec<String>)| {
        let mut cells: Vec<String> = good.split(',').map(str::to_owned).collect();
        edit(&mut cells);
        cells.join(",")
    };
    let number = sample::addressee_number(100);
    let wrong_digit = {
        let mut n = number.clone().into_bytes();
        let last = n.len() - 1;
        n[last] = b'0' + (n[last] - b'0' + 1) % 10;
        String::from_utf8(n).unwrap()
    };
    let bad = [
        header(),
        row(&|c| c[2] = sample::addressee_number(100)),
        row(&|c| c[2] = wrong_digit.clone()),
        row(&|c| {
            c[2] = sample::addressee_number(101);
            c[9] = "いとこ".into()
        }),
        row(&|c| {
            c[2] = sample::addressee_number(102);
            c[7] = "令和元年4月30日".into()
        }),
        row(&|c| {
            c[1] = "131016".into();
            c[2] = sample::addressee_number(103)
        }),
    ]
    .join("\n");
    let rejected = import(&app, &admin, "full", &bad).await;
    assert_eq!(rejected["state"], "rejected", "{rejected}");
    let problems: Vec<(u64, &str)> = rejected["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["column"].as_str().unwrap()))
        .collect();
    assert_eq!(
        problems,
        [
            (3, "addresseeNumber"),
            (4, "relationship"),
            (5, "dateOfBirth"),
            (6, "lgCode")
        ]
    );
    assert!(
        rejected["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("検査数字")
    );
    assert_eq!(directory(&app, &admin).await["residents"], 40);

    // A clerk with a visit.
    let client = app
        .register_client(&["residents", "visits"], &["012084"])
        .await;
    let token = app.token_for(&client.id, &client.secret).await;
    let visit = crate::visits::open_visit(
        &app,
        &token,
        &json!({
            "events": [{"kind": "certificateRequest", "date": "2026-12-03", "facts": {"certificates": ["residentRecordCopy"]}}],
            "members": [{"id": "m1", "familyName": "仮", "givenName": "入力", "familyNameKana": "カリ", "givenNameKana": "ニュウリョク", "dateOfBirth": "1970-01-01", "sex": "9"}],
            "applicant": {"member": "m1"}
        }),
    )
    .await;
    let clerk = Clerk {
        app: &app,
        token,
        visit,
    };

    // Kana folded as the registry searches: hiragana, ッ/ツ, spaces.
    let hattori = clerk.found(&[("kana", "はつとり")]).await;
    assert!(!hattori.is_empty());
    assert!(
        hattori
            .iter()
            .all(|r| r["nameKana"].as_str().unwrap().starts_with("ハットリ"))
    );
    // A long vowel is the vowel it stands for: サトー finds サトウ.
    let sato = clerk.found(&[("kana", "サトウ")]).await;
    assert!(!sato.is_empty());
    assert_eq!(clerk.found(&[("kana", "ｻﾄｰ")]).await, sato);
    let first = &clerk.found(&[("kana", "やまだ")]).await[0];
    assert_eq!(first["relationship"], "世帯主");
    // The name byte for byte: 葛 with its IVS and a plane-16 外字 come back as they went in.
    let kasai = clerk.found(&[("kana", "かさい")]).await;
    assert!(!kasai.is_empty());
    for r in &kasai {
        assert!(
            r["name"].as_str().unwrap().starts_with("葛\u{E0100}西"),
            "{r}"
        );
    }
    let gaiji = clerk.found(&[("name", "\u{F0001}子")]).await;
    assert!(!gaiji.is_empty());
    // 和暦 and 西暦 dates find the same residents.
    let born = first["dateOfBirth"]["iso"].as_str().unwrap().to_owned();
    let by_iso = clerk.found(&[("dateOfBirth", &born)]).await;
    assert!(
        by_iso
            .iter()
            .any(|r| r["addresseeNumber"] == first["addresseeNumber"])
    );
    let text = first["dateOfBirth"]["text"].as_str().unwrap().to_owned();
    if first["dateOfBirth"]["exact"] == true {
        assert_eq!(
            clerk.found(&[("dateOfBirth", &text)]).await.len(),
            by_iso.len()
        );
    }
    // Address parts with full-width digits.
    let street = first["address"]["streetAddress"]
        .as_str()
        .unwrap()
        .to_owned();
    let block = first["address"]["cityBlock"].as_str().unwrap().to_owned();
    let wide: String = block
        .chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
            '-' => '－',
            c => c,
        })
        .collect();
    let at = clerk
        .found(&[("address", &format!("{street} {wide}")), ("kana", "やまだ")])
        .await;
    assert!(
        at.iter()
            .any(|r| r["addresseeNumber"] == first["addresseeNumber"])
    );
    // What a clerk must send.
    let nothing = clerk.search(&[]).await;
    problem(nothing, StatusCode::BAD_REQUEST, "invalid_request").await;
    let no_visit = app
        .http
        .get(app.url("/v1/municipalities/012084/residents?kana=ヤマダ"))
        .bearer_auth(&clerk.token)
        .header("Madoguchi-Actor", "clerk-0042")
        .send()
        .await
        .unwrap();
    assert_eq!(no_visit.status(), StatusCode::BAD_REQUEST);

    // The household, householder first.
    let household = first["householdNumber"].as_str().unwrap();
    let members: Value = app
        .http
        .get(app.url(&format!(
            "/v1/municipalities/012084/households/{household}?visitId={}",
            clerk.visit
        )))
        .bearer_auth(&clerk.token)
        .header("Madoguchi-Actor", "clerk-0042")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let members = members["items"].as_array().unwrap();
    assert_eq!(members[0]["relationship"], "世帯主");
    assert!(members.iter().all(|m| m["householdNumber"] == household));

    // A differential file: an addition, a change and a removal, in order.
    let added = sample::addressee_number(500);
    let changed_number = sample::addressee_number(1);
    let removed_number = sample::addressee_number(2);
    let changed_row =
        sample::diff_row("012084", 1, "U").replace("令和2年4月1日,転入", "令和2年4月1日,転居");
    let diff = [
        header(),
        sample::diff_row("012084", 500, "A"),
        changed_row,
        format!("D,012084,{removed_number},,,,,,,,,,,,,,,,,,,,"),
    ]
    .join("\n");
    let applied = import(&app, &admin, "diff", &diff).await;
    assert_eq!(applied["state"], "applied", "{applied}");
    assert_eq!(
        [
            &applied["import"]["added"],
            &applied["import"]["changed"],
            &applied["import"]["removed"]
        ],
        [1, 1, 1]
    );
    assert_eq!(directory(&app, &admin).await["residents"], 40);
    // A diff that fails half-way changes nothing: its first row's addition is not kept.
    let half = [
        header(),
        sample::diff_row("012084", 600, "A"),
        format!("D,012084,{removed_number},,,,,,,,,,,,,,,,,,,,"),
    ]
    .join("\n");
    let refused = import(&app, &admin, "diff", &half).await;
    assert_eq!(refused["state"], "rejected", "{refused}");
    assert_eq!(refused["errors"][0]["line"], 3);
    assert_eq!(directory(&app, &admin).await["residents"], 40);
    let all: Vec<String> = clerk
        .found(&[("address", "北見市")])
        .await
        .iter()
        .map(|r| r["addresseeNumber"].as_str().unwrap().to_owned())
        .collect();
    assert!(all.contains(&added) && !all.contains(&removed_number));

    // Attaching a resident fills the member's facts with the source registry.
    let attached = app
        .http
        .post(app.url(&format!(
            "/v1/municipalities/012084/visits/{}/residents",
            clerk.visit
        )))
        .bearer_auth(&clerk.token)
        .header("Madoguchi-Actor", "clerk-0042")
        .json(&json!({"addresseeNumber": changed_number, "member": "m1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached.status(),
        StatusCode::OK,
        "{}",
        attached.text().await.unwrap()
    );
    let read: Value = app
        .http
        .get(app.url(&format!("/v1/municipalities/012084/visits/{}", clerk.visit)))
        .bearer_auth(&clerk.token)
        .header("Madoguchi-Actor", "clerk-0042")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let facts = read["members"][0]["facts"].as_array().unwrap();
    for name in [
        "familyName",
        "givenName",
        "familyNameKana",
        "sex",
        "relationship",
    ] {
        let fact = facts
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {read}"));
        assert_eq!(fact["source"], "registry", "{name}");
    }
    let unknown = app
        .http
        .post(app.url(&format!(
            "/v1/municipalities/012084/visits/{}/residents",
            clerk.visit
        )))
        .bearer_auth(&clerk.token)
        .header("Madoguchi-Actor", "clerk-0042")
        .json(&json!({"addresseeNumber": removed_number, "member": "m1"}))
        .send()
        .await
        .unwrap();
    problem(unknown, StatusCode::NOT_FOUND, "not_found").await;

    // Every lookup is audited with the clerk and the visit, never with what was searched.
    let audit = app
        .get_json(
            "/v1/municipalities/012084/audit-events?limit=100",
            &app.demo_token().await,
        )
        .await;
    let lookups: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "resident.lookup")
        .collect();
    assert!(lookups.len() >= 8, "{lookups:?}");
    for l in &lookups {
        assert_eq!(l["actor"], "clerk-0042");
        assert!(
            l["target"]
                .as_str()
                .unwrap()
                .contains(&format!("visit:{}", clerk.visit))
        );
    }
    let text = audit.to_string();
    assert!(!text.contains("ハットリ") && !text.contains("はつとり"));
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "directory.import")
    );
}
storage_test!(the_directory_is_imported_searched_and_attached);
