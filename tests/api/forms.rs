//! Standard forms over HTTP: schemas, normalization, validation, dialects, and bad input.

use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, built_in_forms, madoguchi, problem, spawn_app};

async fn post(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.send_json(Method::POST, path, token, body).await
}

/// `POST /v1/normalize/{kind}` with one value as the clerk typed it.
async fn normalize_one(app: &TestApp, token: &str, kind: &str, value: &str) -> reqwest::Response {
    post(
        app,
        &format!("/v1/normalize/{kind}"),
        token,
        &json!({ "value": value }),
    )
    .await
}

async fn validate(app: &TestApp, token: &str, form: &str, body: &Value) -> Value {
    let response = post(app, &format!("/v1/forms/{form}/validate"), token, body).await;
    assert_eq!(response.status(), StatusCode::OK, "validate answers 200");
    response.json().await.unwrap()
}

fn example(form: &str) -> Value {
    let forms = built_in_forms();
    let form = forms.form(form, None).ok().unwrap();
    form.examples()[0].clone()
}

/// The (pointer, code) pairs of a list of errors, as the specimens give them.
fn pointers_and_codes(errors: &Value) -> Vec<(String, String)> {
    errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["pointer"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Applies a JSON-patch-like list of add / replace / remove operations.
fn apply_patch(doc: &mut Value, patch: &[Value]) {
    madoguchi::conformance::specimens::apply_patch(doc, patch).unwrap();
}

/// Every form's `/schema` compiles on its own, offline — nothing else loaded, nothing
/// fetched — and accepts the form's own examples: the common schemas it uses travel inside it.
#[tokio::test]
async fn each_form_schema_is_self_contained() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.demo_token().await;
    let list = app.get_json("/v1/forms", &token).await;
    for item in list["items"].as_array().unwrap() {
        let (id, version) = (
            item["id"].as_str().unwrap(),
            item["latestVersion"].as_str().unwrap(),
        );
        let schema = app
            .get_json(&format!("/v1/forms/{id}/{version}/schema"), &token)
            .await;
        // No retriever and no registry: an unresolved $ref fails the build.
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let examples = schema["examples"].as_array().unwrap();
        assert!(!examples.is_empty(), "{id}");
        for example in examples {
            let errors: Vec<String> = validator
                .iter_errors(example)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{id}: {errors:?}");
        }
        let embedded = schema["$defs"].as_object().unwrap();
        assert!(
            embedded.keys().all(|k| k.contains("/schemas/common/")),
            "{id}"
        );
    }
}

#[tokio::test]
async fn forms_versions_and_schemas_are_listed() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.demo_token().await;
    let list = app.get_json("/v1/forms", &token).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 12);
    let resident = items.iter().find(|f| f["id"] == "residentMove").unwrap();
    assert_eq!(resident["title"], "住民異動届");
    assert_eq!(resident["latestVersion"], "1.0");
    assert_eq!(list["dialects"][0]["name"], "legacy-counter-v2");
    assert_eq!(list["dialects"][0]["forms"][0], "residentMove@1.0");

    let detail = app.get_json("/v1/forms/certificateIssuance", &token).await;
    assert_eq!(detail["title"], "証明書交付請求書");
    let schema_url = detail["versions"][0]["schemaUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app.get(&schema_url, &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/schema+json"
    );
    let schema: Value = response.json().await.unwrap();
    assert_eq!(schema["$id"], detail["versions"][0]["schemaId"]);
    assert_eq!(schema["title"], "証明書交付請求書");

    // The schemas are in the OpenAPI document, named as the form detail says.
    let openapi = app.get_public_json("/openapi.json").await;
    let component = detail["versions"][0]["component"].as_str().unwrap();
    // Its Japanese name is a label, not the name generators give the type.
    assert_eq!(
        openapi["components"]["schemas"][component]["x-label"],
        "証明書交付請求書"
    );

    let missing = problem(
        app.get("/v1/forms/passport", &token).await,
        StatusCode::NOT_FOUND,
        "form_not_found",
    )
    .await;
    assert!(
        missing["forms"]
            .as_array()
            .unwrap()
            .contains(&json!("residentMove"))
    );
    assert!(missing["detail"].as_str().unwrap().contains("residentMove"));
    let missing = problem(
        app.get("/v1/forms/residentMove/9.9/schema", &token).await,
        StatusCode::NOT_FOUND,
        "form_not_found",
    )
    .await;
    assert_eq!(missing["versions"], json!(["1.0"]));

    // A token without the forms scope is refused.
    let other = app
        .register_client(&["municipalities:read"], &["012084"])
        .await;
    let other = app.token_for(&other.id, &other.secret).await;
    problem(
        app.get("/v1/forms", &other).await,
        StatusCode::FORBIDDEN,
        "insufficient_scope",
    )
    .await;
}

#[tokio::test]
async fn every_example_validates_and_every_specimen_fails_exactly_as_expected() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.demo_token().await;
    let forms = built_in_forms();
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/conformance/specimens/forms"
    );
    let mut checked = 0;
    for form in forms.forms() {
        let route = format!("{}/{}", form.id, form.version);
        for example in form.examples() {
            let result = validate(&app, &token, &route, example).await;
            assert_eq!(result["valid"], true, "{route}: {}", result["errors"]);
            assert_eq!(result["document"], *example);
        }
        let file = format!("{dir}/{}.json", form.id);
        let data: Value = serde_json::from_str(
            &std::fs::read_to_string(&file).unwrap_or_else(|_| panic!("{file}")),
        )
        .unwrap();
        assert_eq!(data["form"], format!("{}@{}", form.id, form.version));
        let specimens = data["specimens"].as_array().unwrap();
        assert!(
            specimens.len() >= 3,
            "{}: at least three invalid specimens",
            form.id
        );
        for specimen in specimens {
            let mut doc = form.examples()[0].clone();
            apply_patch(&mut doc, specimen["patch"].as_array().unwrap());
            let result = validate(&app, &token, &route, &doc).await;
            let name = specimen["name"].as_str().unwrap();
            assert_eq!(result["valid"], false, "{route} {name}");
            let mut got = pointers_and_codes(&result["errors"]);
            let mut expected = pointers_and_codes(&specimen["expect"]);
            got.sort();
            expected.sort();
            assert_eq!(got, expected, "{route} {name}: {}", result["errors"]);
            for e in result["errors"].as_array().unwrap() {
                let message = e["message"].as_str().unwrap();
                assert!(
                    message.contains('「'),
                    "{route} {name}: the message names the field: {message}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 36, "{checked} specimens");
}

#[tokio::test]
async fn validate_normalizes_first_and_reports_every_error_at_once() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.demo_token().await;
    let mut doc = example("residentMove");
    doc["notificationDate"] = json!("令和8年4月3日");
    doc["moveDate"] = json!("R8.3.28");
    doc["applicant"]["contact"]["phone"] = json!("０９０－１２３４－５６７８");
    doc["toAddress"]["postalCode"] = json!("〒0900024");
    doc["toAddress"]["cityBlock"] = json!("三丁目二番一号");
    doc["members"][0]["givenNameKana"] = json!("ﾀﾛｳ");
    doc["members"][0]["myNumber"] = json!("１２３４ ５６７８ ９０１８");
    doc["members"][1]["familyNameKana"] = json!("山田");
    doc["members"][2]["dateOfBirth"] = json!("令和3年2月30日");
    doc["members"][2]["relationship"] = json!("長男");
    let result = validate(&app, &token, "residentMove/1.0", &doc).await;
    assert_eq!(result["valid"], false);
    let d = &result["document"];
    assert_eq!(d["notificationDate"], "2026-04-03");
    assert_eq!(d["moveDate"], "2026-03-28");
    assert_eq!(d["applicant"]["contact"]["phone"], "090-1234-5678");
    assert_eq!(d["toAddress"]["postalCode"], "090-0024");
    assert_eq!(d["toAddress"]["cityBlock"], "3-2-1");
    assert_eq!(d["members"][0]["givenNameKana"], "タロウ");
    assert_eq!(d["members"][0]["myNumber"], "123456789018");
    let changes = result["changes"].as_array().unwrap();
    let change = |p: &str| {
        changes
            .iter()
            .find(|c| c["pointer"] == p)
            .unwrap_or_else(|| panic!("no change at {p}"))
    };
    assert_eq!(change("/notificationDate")["from"], "令和8年4月3日");
    assert_eq!(change("/notificationDate")["rule"], "date.wareki");
    assert_eq!(change("/toAddress/cityBlock")["rule"], "cityBlock.ds442");
    // A My Number is never echoed in a change.
    assert_eq!(change("/members/0/myNumber")["from"], Value::Null);
    assert!(!result["changes"].to_string().contains("9018"));
    let errors = result["errors"].as_array().unwrap();
    let codes: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e["pointer"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("/members/1/familyNameKana", "kana_invalid_character"),
            ("/members/2/dateOfBirth", "date_nonexistent_day"),
            ("/members/2/relationship", "not_in_list"),
        ]
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("「氏(フリガナ)」")
    );
    assert_eq!(errors[2]["keyword"], "enum");
    assert!(
        errors[2]["message"]
            .as_str()
            .unwrap()
            .contains("世帯主との続柄")
    );

    // English on request: the field is named by its property.
    let english: Value = app
        .http
        .post(app.url("/v1/forms/residentMove/1.0/validate"))
        .bearer_auth(&token)
        .header("accept-language", "en")
        .json(&doc)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        english["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("familyNameKana")
    );
}

#[tokio::test]
async fn normalize_reports_changes_and_warnings_apart_from_errors() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.demo_token().await;
    let mut doc = example("residentMove");
    doc["moveDate"] = json!("平成31年5月1日");
    doc["notificationDate"] = json!("令和元年4月30日");
    let response = post(&app, "/v1/forms/residentMove/1.0/normalize", &token, &doc).await;
    assert_eq!(response.status(), StatusCode::OK);
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["document"]["moveDate"], "2019-05-01");
    assert_eq!(result["warnings"][0]["pointer"], "/moveDate");
    assert_eq!(result["warnings"][0]["code"], "date_era_overflow");
    assert_eq!(result["warnings"][0]["suggestion"], "令和元年5月1日");
    assert_eq!(result["errors"][0]["pointer"], "/notificationDate");
    assert_eq!(result["errors"][0]["code"], "date_before_era");
    assert_eq!(result["errors"][0]["suggestion"], "平成31年4月30日");
    // The value that could not be read is left as it was.
    assert_eq!(result["document"]["notificationDate"], "令和元年4月30日");
}

#[tokio::test]
async fn single_fields_normalize_as_the_clerk_types_them() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.demo_token().await;
    for (kind, input, expected, rule) in [
        ("date", "令和6年3月1日", json!("2024-03-01"), "date.wareki"),
        ("date", "2024/3/1", json!("2024-03-01"), "date.gregorian"),
        (
            "registryDate",
            "令和2年頃",
            json!({"value": "2020", "precision": "year", "qualifier": "about", "text": "令和2年頃"}),
            "date.approximate",
        ),
        (
            "kana",
            "やまだ　ﾀﾛｳ",
            json!("ヤマダ　タロウ"),
            "kana.katakana",
        ),
        (
            "postalCode",
            "〒０９０－００２４",
            json!("090-0024"),
            "postalCode.format",
        ),
        (
            "phone",
            "(0157)25-1234",
            json!("0157-25-1234"),
            "phone.format",
        ),
        ("cityBlock", "２番地の３", json!("2-3"), "cityBlock.ds442"),
        ("lgCode", "０１２０８４", json!("012084"), "lgCode.format"),
        (
            "myNumber",
            "1234-5678-9018",
            json!("123456789018"),
            "myNumber.format",
        ),
    ] {
        let response = normalize_one(&app, &token, kind, input).await;
        assert_eq!(response.status(), StatusCode::OK, "{kind} {input}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["value"], expected, "{kind} {input}");
        assert_eq!(body["rule"], rule, "{kind} {input}");
        assert_eq!(body["changed"], true, "{kind} {input}");
    }
    let same: Value = normalize_one(&app, &token, "date", "2024-03-01")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(same["changed"], false);

    let overflow: Value = normalize_one(&app, &token, "date", "平成31年5月1日")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(overflow["value"], "2019-05-01");
    assert_eq!(overflow["warnings"][0]["code"], "date_era_overflow");
    assert_eq!(overflow["warnings"][0]["suggestion"], "令和元年5月1日");

    let err = problem(
        normalize_one(&app, &token, "date", "令和元年4月30日").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "normalization_failed",
    )
    .await;
    assert_eq!(err["errors"][0]["code"], "date_before_era");
    assert_eq!(err["errors"][0]["pointer"], "/value");
    assert_eq!(err["suggestion"], "平成31年4月30日");
    assert!(err["detail"].as_str().unwrap().contains("令和の始まり"));

    let lg = problem(
        normalize_one(&app, &token, "lgCode", "012085").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "normalization_failed",
    )
    .await;
    assert_eq!(lg["suggestion"], "012084");

    // A wrong My Number is refused without being quoted.
    let response = normalize_one(&app, &token, "myNumber", "123456789019").await;
    let text = response.text().await.unwrap();
    assert!(text.contains("my_number_check_digit"));
    assert!(!text.contains("123456789019"));

    let unknown = problem(
        normalize_one(&app, &token, "shoesize", "26").await,
        StatusCode::NOT_FOUND,
        "unknown_normalize_kind",
    )
    .await;
    assert!(
        unknown["kinds"]
            .as_array()
            .unwrap()
            .contains(&json!("cityBlock"))
    );
}

/// 番地以下 never loses or merges a character: a 方書 after the block moves to its own field
/// when there is room, stays as written (and is refused) when there is not; 番外地, 無番地,
/// 甲/乙 and イロハ 地番 survive.
#[tokio::test]
async fn a_building_in_the_block_number_is_kept_apart_never_merged() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.demo_token().await;
    let answer = normalize_one(&app, &token, "cityBlock", "3丁目2番1号 101号室").await;
    let body = problem(
        answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "normalization_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["code"], "city_block_has_building");
    assert_eq!(body["suggestion"], "3-2-1");
    assert!(body["detail"].as_str().unwrap().contains("101号室"));
    for (input, expected) in [
        ("番外地", "番外地"),
        ("無番地", "無番地"),
        ("甲１２番地", "甲12"),
        ("イ3番地の4", "イ3-4"),
    ] {
        let answer: Value = normalize_one(&app, &token, "cityBlock", input)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(answer["value"], expected, "{input}");
    }

    let mut doc = example("residentMove");
    doc["toAddress"]["cityBlock"] = json!("3丁目2番1号 101号室");
    doc["fromAddress"]["cityBlock"] = json!("1丁目2番地3号 札幌ハイツ305");
    let result = validate(&app, &token, "residentMove/1.0", &doc).await;
    // Room in toAddress: split.
    assert_eq!(result["document"]["toAddress"]["cityBlock"], "3-2-1");
    assert_eq!(
        result["document"]["toAddress"]["buildingNameEtc"],
        "101号室"
    );
    let split = result["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["pointer"] == "/toAddress/buildingNameEtc")
        .unwrap();
    assert_eq!(split["code"], "city_block_building_split");
    // fromAddress has a 方書 already: nothing is moved, and the document is not valid.
    assert_eq!(
        result["document"]["fromAddress"]["cityBlock"],
        "1丁目2番地3号 札幌ハイツ305"
    );
    assert_eq!(
        result["document"]["fromAddress"]["buildingNameEtc"],
        "札幌ハイツ305"
    );
    assert_eq!(result["valid"], false);
    let codes = pointers_and_codes(&result["errors"]);
    assert!(
        codes.contains(&(
            "/fromAddress/cityBlock".to_owned(),
            "invalid_city_block".to_owned()
        )),
        "{codes:?}"
    );
}

/// The changeover days of 明治/大正 and 大正/昭和 belong to both eras.
#[tokio::test]
async fn the_era_table_knows_the_overlap_days() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.demo_token().await;
    for (input, iso) in [
        ("明治45年7月30日", "1912-07-30"),
        ("大正元年7月30日", "1912-07-30"),
        ("大正15年12月25日", "1926-12-25"),
        ("昭和元年12月25日", "1926-12-25"),
    ] {
        let answer: Value = normalize_one(&app, &token, "date", input)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(answer["value"], iso, "{input}");
        assert_eq!(answer["warnings"], json!([]), "{input}");
    }
}

/// Names refuse what hides or breaks them; a foreign resident may be named by fullName alone;
/// residence card numbers are normalized; an empty optional field is treated as absent.
#[tokio::test]
async fn names_foreign_residents_and_empty_optionals() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.demo_token().await;
    let mut doc = example("residentMove");
    doc["members"][1]["givenName"] = json!("花\u{202E}子");
    doc["members"][2]["familyName"] = json!("　");
    let result = validate(&app, &token, "residentMove/1.0", &doc).await;
    let codes = pointers_and_codes(&result["errors"]);
    for pointer in ["/members/1/givenName", "/members/2/familyName"] {
        assert!(
            codes.contains(&(pointer.to_owned(), "invalid_name_characters".to_owned())),
            "{pointer}: {codes:?}"
        );
    }
    assert_eq!(
        result["document"]["members"][1]["givenName"], "花\u{202E}子",
        "untouched"
    );

    let mut doc = example("residentMove");
    doc["members"][1] = json!({
        "fullName": "JOHN SMITH",
        "dateOfBirth": "1990-02-03",
        "sex": "1",
        "relationship": "同居人",
        "nationality": "アメリカ合衆国",
        "residenceCardNumber": "ａｂ 1234 5678 ｃｄ",
        "residenceStatus": ""
    });
    let result = validate(&app, &token, "residentMove/1.0", &doc).await;
    assert_eq!(result["valid"], true, "{}", result["errors"]);
    let member = &result["document"]["members"][1];
    assert_eq!(member["fullName"], "JOHN SMITH");
    assert_eq!(member["residenceCardNumber"], "AB12345678CD");
    assert!(
        member.get("residenceStatus").is_none(),
        "an empty optional is removed"
    );
    let removed = result["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["pointer"] == "/members/1/residenceStatus")
        .unwrap();
    assert_eq!(removed["rule"], "emptyOptional.removed");
    assert_eq!(removed["to"], Value::Null);

    doc["members"][1]
        .as_object_mut()
        .unwrap()
        .remove("fullName");
    let result = validate(&app, &token, "residentMove/1.0", &doc).await;
    let codes = pointers_and_codes(&result["errors"]);
    assert_eq!(
        codes,
        [("/members/1".to_owned(), "name_required".to_owned())]
    );
    // In Japanese the field by its label (the message is printed for the resident too).
    let message = result["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("氏名") && !message.contains("fullName"),
        "{message}"
    );
}

/// What no schema keyword can say: the prefecture must be the lgCode's, and nobody may be born
/// after the day of notification. Each finding points at every field involved; an error inside
/// an address names the inner field.
#[tokio::test]
async fn cross_field_checks_and_errors_inside_composites() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.demo_token().await;
    let mut doc = example("residentMove");
    doc["toAddress"]["prefecture"] = json!("東京都");
    doc["members"][2]["dateOfBirth"] = json!("2026-05-01");
    doc["fromAddress"]["streetAddress"] = json!("北".repeat(61));
    let result = validate(&app, &token, "residentMove/1.0", &doc).await;
    assert_eq!(result["valid"], false);
    let codes = pointers_and_codes(&result["errors"]);
    for (pointer, code) in [
        ("/toAddress/prefecture", "prefecture_mismatch"),
        ("/toAddress/lgCode", "prefecture_mismatch"),
        ("/members/2/dateOfBirth", "date_order"),
        ("/notificationDate", "date_order"),
        ("/fromAddress/streetAddress", "too_long"),
    ] {
        assert!(
            codes.contains(&(pointer.to_owned(), code.to_owned())),
            "{pointer} {code}: {codes:?}"
        );
    }
    assert!(
        !codes.iter().any(|(p, _)| p == "/fromAddress"),
        "the inner field is named, not the whole address: {codes:?}"
    );
    let mismatch = result["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["pointer"] == "/toAddress/prefecture")
        .unwrap();
    assert!(mismatch["message"].as_str().unwrap().contains("北海道"));
}

#[tokio::test]
async fn a_vendor_dialect_becomes_the_standard_form() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.demo_token().await;
    let legacy: Value = serde_json::from_str(include_str!(
        "../data/dialects/legacy-counter-v2.moveIn.json"
    ))
    .unwrap();
    let path = "/v1/forms/residentMove/1.0/validate?dialect=legacy-counter-v2";
    let response = post(&app, path, &token, &legacy).await;
    assert_eq!(response.status(), StatusCode::OK);
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["valid"], true, "{}", result["errors"]);
    let d = &result["document"];
    assert_eq!(d["notificationType"], "moveIn");
    assert_eq!(d["notificationDate"], "2026-04-03");
    assert_eq!(d["applicant"]["familyName"], "山田");
    assert_eq!(d["applicant"]["givenName"], "太郎");
    assert_eq!(d["applicant"]["relation"], "本人");
    assert_eq!(d["fromAddress"]["city"], "札幌市中央区");
    assert_eq!(d["fromAddress"]["streetAddress"], "北一条西");
    assert_eq!(d["fromAddress"]["cityBlock"], "2-1");
    assert_eq!(d["fromAddress"]["buildingNameEtc"], "札幌ハイツ305");
    assert_eq!(d["toAddress"]["lgCode"], "012084");
    assert_eq!(d["toAddress"]["cityBlock"], "3-2-1");
    assert_eq!(d["remarks"], "転出証明書なし");
    assert_eq!(d["members"][0]["givenNameKana"], "タロウ");
    assert_eq!(d["members"][0]["dateOfBirth"], "1988-07-14");
    assert_eq!(d["members"][1]["relationship"], "妻");
    assert_eq!(d["members"][1]["sex"], "2");
    assert_eq!(d["members"][2]["dateOfBirth"], "2021-11-20");
    let warnings: Vec<&str> = result["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert!(warnings.contains(&"dialect_unmapped_field"), "{warnings:?}");
    assert!(
        result["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["rule"] == "dialect.splitAddress")
    );

    // An unknown code in the legacy data is an error that lists the known ones.
    let mut bad = legacy.clone();
    bad["IDOSHA"][1]["ZOKUGARA"] = json!("77");
    let result: Value = post(&app, path, &token, &bad).await.json().await.unwrap();
    assert_eq!(result["valid"], false);
    assert_eq!(result["errors"][0]["pointer"], "/members/1/relationship");
    assert_eq!(result["errors"][0]["code"], "dialect_unknown_code");

    let unknown = problem(
        post(
            &app,
            "/v1/forms/residentMove/1.0/validate?dialect=acme",
            &token,
            &legacy,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "unknown_dialect",
    )
    .await;
    assert_eq!(unknown["dialects"], json!(["legacy-counter-v2"]));
    problem(
        post(
            &app,
            "/v1/forms/sealRegistration/1.0/validate?dialect=legacy-counter-v2",
            &token,
            &legacy,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "unknown_dialect",
    )
    .await;
}

#[tokio::test]
async fn bad_input_is_a_clear_problem_never_a_crash() {
    let app = spawn_app(Backend::Sqlite).await;
    let token = app.demo_token().await;
    let url = app.url("/v1/forms/residentMove/1.0/validate");
    let send = |body: Vec<u8>, content_type: &'static str| {
        app.http
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let big = format!("{{\"remarks\":\"{}\"}}", "あ".repeat(400_000)).into_bytes();
    problem(
        send(big, "application/json").await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    let deep = format!(
        "{{\"remarks\": {}{}}}",
        "[".repeat(5_000),
        "]".repeat(5_000)
    )
    .into_bytes();
    problem(
        send(deep, "application/json").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    let mut invalid_utf8 = b"{\"remarks\":\"".to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0x80]);
    invalid_utf8.extend_from_slice(b"\"}");
    problem(
        send(invalid_utf8, "application/json").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    let array = problem(
        send(b"[1,2]".to_vec(), "application/json").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(array["errors"][0]["code"], "invalid_type");
    problem(
        send(b"{}".to_vec(), "text/plain").await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // An empty object is well-formed: 200 with every required field listed.
    let result = validate(&app, &token, "residentMove/1.0", &json!({})).await;
    assert_eq!(result["valid"], false);
    assert_eq!(result["errors"].as_array().unwrap().len(), 5);
}

/// Copies the built-in schemas to a directory the test may break.
fn schema_copy() -> tempfile::TempDir {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = tempfile::TempDir::new().unwrap();
    copy(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas")),
        dir.path(),
    );
    dir
}

/// Turns a schema file's text into a broken one.
type Breaker = Box<dyn Fn(&str) -> String>;

#[tokio::test]
async fn a_broken_schema_stops_start_up_naming_the_file() {
    crate::helpers::install_crypto();
    let cases: [(&str, Breaker, &str); 5] = [
        (
            "forms/residentMove/1.0.schema.json",
            Box::new(|s: &str| {
                s.replace(
                    "../../common/person.schema.json#/$defs/kana",
                    "../../common/person.schema.json#/$defs/kanna",
                )
            }),
            "does not resolve",
        ),
        (
            "common/address.schema.json",
            Box::new(|s: &str| s.replacen('{', "{{", 1)),
            "not valid JSON",
        ),
        (
            "forms/sealRegistration/1.0.schema.json",
            Box::new(|s: &str| s.replacen("\"required\"", "\"requird\"", 1)),
            "unknown keyword \"requird\"",
        ),
        (
            "forms/funeralExpenses/1.0.schema.json",
            Box::new(|s: &str| s.replacen("\"type\": \"object\"", "\"type\": \"objekt\"", 1)),
            "does not compile",
        ),
        (
            // Patterns run on the linear-time `regex` engine: no look-around.
            "forms/sealRegistration/1.0.schema.json",
            Box::new(|s: &str| s.replacen("^[0-9A-Za-z-]{1,20}$", "^(?!0)[0-9A-Za-z-]{1,20}$", 1)),
            "does not compile",
        ),
    ];
    for (file, breaks, expected) in cases {
        let dir = schema_copy();
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, breaks(&text)).unwrap();
        let data = tempfile::TempDir::new().unwrap();
        let mut settings = crate::helpers::test_settings(Backend::Sqlite, data.path()).await;
        settings.schemas.dir = Some(dir.path().to_path_buf());
        let err = madoguchi::Application::build(settings)
            .await
            .err()
            .expect("start-up fails")
            .to_string();
        assert!(err.contains(file), "{err}");
        assert!(err.contains(expected), "{err}");
    }
    // An era added to the table needs no release: the copy's era table is read at start-up.
    let dir = schema_copy();
    let eras = dir.path().join("reference/eras.json");
    let text = std::fs::read_to_string(&eras).unwrap().replace(
        "\"start\": \"2019-05-01\" }",
        "\"start\": \"2019-05-01\" },\n    { \"name\": \"新元号\", \"latin\": \"Next\", \"abbreviations\": [\"N\"], \"start\": \"2030-01-01\" }",
    );
    std::fs::write(&eras, text).unwrap();
    let data = tempfile::TempDir::new().unwrap();
    let mut settings = crate::helpers::test_settings(Backend::Sqlite, data.path()).await;
    settings.schemas.dir = Some(dir.path().to_path_buf());
    let app = crate::helpers::start(settings, Some(data)).await;
    let token = app.demo_token().await;
    let body: Value = normalize_one(&app, &token, "date", "新元号2年3月1日")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["value"], "2031-03-01");
}

#[test]
fn forms_check_works_offline_for_vendors_ci() {
    let dir = tempfile::TempDir::new().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, example("residentMove").to_string()).unwrap();
    let mut bad_doc = example("residentMove");
    bad_doc["members"][0]["sex"] = json!("3");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, bad_doc.to_string()).unwrap();

    let out = madoguchi()
        .args(["forms", "check", "--form", "residentMove@1.0"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = madoguchi()
        .args(["forms", "check", "--form", "residentMove"])
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("/members/0/sex [not_in_list] 「性別」"),
        "{stdout}"
    );
    let out = madoguchi()
        .args([
            "forms",
            "check",
            "--json",
            "--lang",
            "en",
            "--form",
            "residentMove",
        ])
        .arg(&bad)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["valid"], false);
    assert_eq!(report[0]["errors"][0]["pointer"], "/members/0/sex");
    assert!(
        report[0]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("sex")
    );
    let out = madoguchi()
        .args(["forms", "check", "--form", "passport"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("residentMove"));
}

/// Characters of resident names the normalizer must never touch: ideographs with variation
/// selectors (IVS), plane-16 private-use characters (外字), half-width katakana and spaces.
fn name_strategy() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        proptest::char::range('\u{4E00}', '\u{9FFF}').prop_map(|c| c.to_string()),
        (
            proptest::char::range('\u{4E00}', '\u{9FFF}'),
            proptest::char::range('\u{E0100}', '\u{E01EF}')
        )
            .prop_map(|(b, v)| format!("{b}{v}")),
        proptest::char::range('\u{100000}', '\u{10FFFD}').prop_map(|c| c.to_string()),
        proptest::char::range('\u{FF66}', '\u{FF9D}').prop_map(|c| c.to_string()),
        Just("\u{3000}".to_owned()),
        Just("ー".to_owned()),
        Just("𠮷".to_owned()),
    ];
    proptest::collection::vec(part, 1..12).prop_map(|parts| parts.concat())
}

/// Loaded once for the property tests: loading compiles every schema.
static FORMS: std::sync::LazyLock<madoguchi::forms::FormRegistry> =
    std::sync::LazyLock::new(built_in_forms);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn names_come_back_byte_for_byte(family in name_strategy(), given in name_strategy()) {
        let forms = &*FORMS;
        let form = forms.form("residentMove", None).ok().unwrap();
        let mut doc = form.examples()[0].clone();
        doc["members"][1]["familyName"] = json!(family);
        doc["members"][1]["givenName"] = json!(given);
        doc["applicant"]["familyName"] = json!(family);
        let processed = forms.validate(form, doc, None);
        let out = &processed.document;
        prop_assert_eq!(out["members"][1]["familyName"].as_str().unwrap().as_bytes(), family.as_bytes());
        prop_assert_eq!(out["members"][1]["givenName"].as_str().unwrap().as_bytes(), given.as_bytes());
        prop_assert_eq!(out["applicant"]["familyName"].as_str().unwrap().as_bytes(), family.as_bytes());
        prop_assert!(processed.report.changes.is_empty());
    }

    #[test]
    fn any_typed_date_is_answered_never_a_panic(input in "\\PC{0,24}") {
        let forms = &*FORMS;
        let _ = madoguchi::forms::normalize::field(madoguchi::forms::normalize::Kind::RegistryDate, &input, &forms.eras);
    }

    #[test]
    fn wareki_round_trips_through_iso(days in 0i64..60_000) {
        let forms = &*FORMS;
        let date = chrono::NaiveDate::from_ymd_opt(1873, 1, 1).unwrap() + chrono::Duration::days(days);
        let wareki = forms.eras.wareki_day(date).unwrap();
        let out = madoguchi::forms::normalize::field(madoguchi::forms::normalize::Kind::Date, &wareki, &forms.eras).unwrap();
        prop_assert_eq!(out.value.as_str().unwrap(), date.to_string());
        prop_assert!(out.warnings.is_empty());
    }
}
