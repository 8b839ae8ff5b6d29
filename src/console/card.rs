//! 本人確認 with the My Number card: the clerk picks the counter PC whose reader holds the card,
//! how it is read (the resident's PIN on the reader, or 照合番号B from the card face) and whose
//! card it is; the page then follows the card session (カードを置いてください → 暗証番号は読み取り機で
//! → 読み取り中 → 確認済み) and shows the verified 基本4情報, and the card-face images where the face
//! was read, on the clerk's screen only; 取り込む records them into the member with the source
//! `card`. The session is asked, read and taken through the functions the API's card-session and
//! visit handlers call: the same checks, the same audit.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use maud::{Markup, html};
use uuid::Uuid;

use super::page::{self, Failure, t};
use super::session::Signed;
use super::visit::{Loaded, back_to_identify, frame, heading, load, member_name, revision_of};
use crate::card::session::FaceImage;
use crate::devices::DeviceState;
use crate::forms::normalize::width::fold_char;
use crate::http::problem::ApiError;
use crate::http::state::AppState;
use crate::http::v1::card_sessions::{
    CardSessionDto, NewCardSessionDto, PurposeDto, StateDto, ask_card, card_image, session_of,
    shown_session,
};
use crate::http::v1::visits::take_card;
use crate::i18n::Lang;

/// The ways the console reads a card (never the 個人番号: the console does not need it).
const METHODS: [(&str, &str, &str); 3] = [
    (
        "readBasicInfo",
        "暗証番号(数字4桁)を本人が読み取り機で入力する",
        "The resident types the 4-digit PIN on the reader",
    ),
    (
        "readBasicInfoByCardFace",
        "照合番号Bを職員が入力する(暗証番号なし)",
        "The clerk types 照合番号B (no PIN)",
    ),
    (
        "readCardFace",
        "照合番号Bで券面(氏名・住所・顔写真の画像)も読む",
        "照合番号B, and the card face's images (name, address, photo)",
    ),
];

fn method(s: &str) -> Option<PurposeDto> {
    match s {
        "readBasicInfo" => Some(PurposeDto::ReadBasicInfo),
        "readBasicInfoByCardFace" => Some(PurposeDto::ReadBasicInfoByCardFace),
        "readCardFace" => Some(PurposeDto::ReadCardFace),
        _ => None,
    }
}

/// What the clerk sent last and what was wrong with it, to show the form again.
#[derive(Default)]
pub struct CardForm {
    pub device: String,
    pub method: String,
    pub matching: String,
    pub member: String,
    /// (field name, message): `device`, `method`, `matching`, `member` or `form`.
    pub errors: Vec<(&'static str, String)>,
}

impl CardForm {
    fn error(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| m.as_str())
    }
}

/// The counter PCs of the clerk's municipality whose bridge has enrolled (revoked and pending
/// ones cannot read a card), in registration order.
async fn active_devices(
    state: &AppState,
    signed: &Signed,
) -> Result<Vec<crate::devices::Device>, Failure> {
    let code = signed.session.staff.lg_code;
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_devices(Some(&code), 100, after)
            .await
            .map_err(|e| signed.api(ApiError::from(e)))?;
        let now = Utc::now();
        out.extend(
            page.items
                .iter()
                .filter(|d| d.state(now) == DeviceState::Active)
                .cloned(),
        );
        match page.items.last() {
            Some(last) if page.next_after.is_some() => after = Some(last.id),
            _ => return Ok(out),
        }
    }
}

/// The card section of 本人確認.
pub(super) async fn section(
    state: &AppState,
    signed: &Signed,
    l: &Loaded,
    form: &CardForm,
) -> Result<Markup, Failure> {
    let lang = signed.lang;
    let id = l.visit.id;
    let devices = active_devices(state, signed).await?;
    let chosen_method = if form.method.is_empty() {
        "readBasicInfo"
    } else {
        form.method.as_str()
    };
    let invalid = |name: &str| form.error(name).map(|_| "true");
    let described = |name: &str, support: &str| match form.error(name) {
        Some(_) => format!("{support} card-{name}-error"),
        None => support.to_owned(),
    };
    let error_line = |name: &str| -> Markup {
        html! {
            @if let Some(m) = form.error(name) {
                span.dads-form-control-label__error #{ "card-" (name) "-error" } { "＊" (m) }
            }
        }
    };
    Ok(html! {
        section #card aria-labelledby="card-title" {
            h2 #card-title { (t(lang, "マイナンバーカードで確認", "Check with the My Number card")) }
            @if let Some(m) = form.error("form") {
                div.dads-notification-banner data-type="error" role="alert" #card-error-summary {
                    h3 { (t(lang, "カードの読取りを始められませんでした", "The card read could not start")) }
                    p { (m) }
                }
            }
            @if devices.is_empty() {
                p #no-devices { (t(lang,
                    "この団体には、登録の済んだ窓口端末(カード読み取り機のあるPC)がありません。管理者が窓口端末を登録すると、ここでカードを読み取れます。住民記録の検索で確認してください。",
                    "No counter PC with a card reader has enrolled in this municipality yet. Once an administrator registers one, cards are read here; use the registry search meanwhile.")) }
            } @else {
                form method="post" action={ "/counter/visits/" (id) "/card" } {
                    input type="hidden" name="csrf" value=(signed.session.csrf);
                    div.dads-form-control-label {
                        label.dads-form-control-label__label for="card-device" { (t(lang, "窓口端末", "Counter PC")) }
                        select.dads-select #card-device name="device" aria-invalid=[invalid("device")]
                            aria-describedby=[form.error("device").map(|_| "card-device-error")] {
                            @for d in &devices {
                                option value=(d.id) selected[form.device == d.id.to_string()] { (d.counter_name) }
                            }
                        }
                        (error_line("device"))
                    }
                    fieldset.dads-form-control-label {
                        legend.dads-form-control-label__label { (t(lang, "読み取り方", "How to read")) }
                        div.choices {
                            @for (value, ja, en) in METHODS {
                                label.dads-radio {
                                    input type="radio" name="method" value=(value) checked[chosen_method == value];
                                    span { (t(lang, ja, en)) }
                                }
                            }
                        }
                        (error_line("method"))
                    }
                    div.dads-form-control-label {
                        label.dads-form-control-label__label for="card-matching" { (t(lang, "照合番号B(暗証番号で読むときは空欄)", "照合番号B (empty when the PIN is used)")) }
                        span.dads-form-control-label__support #card-matching-support { (t(lang,
                            "券面の生年月日(YYMMDD)・有効期限の西暦年(YYYY)・セキュリティコード(4桁)の14桁。全角でも構いません。",
                            "14 digits from the card face: date of birth YYMMDD, expiry year YYYY, security code. Full-width digits are fine.")) }
                        input.dads-input-text__input #card-matching name="matching" type="text" inputmode="numeric" autocomplete="off"
                            value=(form.matching) aria-invalid=[invalid("matching")]
                            aria-describedby=(described("matching", "card-matching-support"));
                        (error_line("matching"))
                    }
                    div.dads-form-control-label {
                        label.dads-form-control-label__label for="card-member" { (t(lang, "誰のカードか", "Whose card")) }
                        select.dads-select #card-member name="member" {
                            @for m in &l.dto.members {
                                option value=(m.id) selected[form.member == m.id] { (member_name(lang, &l.dto, &m.id)) }
                            }
                        }
                    }
                    div.actions {
                        button.dads-button data-type="solid-fill" type="submit" hx-disabled-elt="this" { (t(lang, "読み取りを始める", "Start reading")) }
                    }
                }
            }
        }
    })
}

/// 照合番号B as the API takes it: full-width digits folded, spaces and hyphens dropped.
fn matching_number(typed: &str) -> String {
    typed
        .chars()
        .map(fold_char)
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

/// `POST /counter/visits/{id}/card`: ask the counter PC to read the card.
pub async fn ask(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let id = path.into_inner();
    let lang = signed.lang;
    let f = &signed.fields;
    let mut form = CardForm {
        device: f.get("device").unwrap_or("").to_owned(),
        method: f.get("method").unwrap_or("").to_owned(),
        matching: f.get("matching").unwrap_or("").to_owned(),
        member: f.get("member").unwrap_or("").to_owned(),
        errors: Vec::new(),
    };
    let l = load(&state, &signed, id).await?;
    let device = form.device.parse::<Uuid>().ok();
    if device.is_none() {
        form.errors.push((
            "device",
            t(lang, "窓口端末を選んでください。", "Choose the counter PC.").to_owned(),
        ));
    }
    let purpose = method(&form.method);
    if purpose.is_none() {
        form.errors.push((
            "method",
            t(
                lang,
                "読み取り方を選んでください。",
                "Choose how to read the card.",
            )
            .to_owned(),
        ));
    }
    if !l.dto.members.iter().any(|m| m.id == form.member) {
        form.errors.push((
            "member",
            t(
                lang,
                "誰のカードかを選んでください。",
                "Choose whose card it is.",
            )
            .to_owned(),
        ));
    }
    let matching = matching_number(&form.matching);
    let (Some(device), Some(purpose), true) = (device, purpose, form.errors.is_empty()) else {
        return refused(&req, &state, &signed, &l, form).await;
    };
    let body = NewCardSessionDto {
        device_id: device,
        purpose,
        visit_id: Some(id),
        matching_number_b: (!matching.is_empty()).then_some(matching),
    };
    match ask_card(&state, signed.session.staff.lg_code, &signed.actor, body).await {
        Ok(session) => Ok(page::see_other(&format!(
            "/counter/visits/{id}/card/{}?member={}",
            session.id, form.member
        ))),
        Err(e) if e.status.is_client_error() => {
            if e.errors.is_empty() {
                form.errors.push(("form", e.detail.get(lang).to_owned()));
            }
            for fe in &e.errors {
                let name = match fe.pointer.as_str() {
                    "/matchingNumberB" => "matching",
                    "/purpose" => "method",
                    "/deviceId" => "device",
                    _ => "form",
                };
                form.errors.push((name, fe.message.get(lang).to_owned()));
            }
            refused(&req, &state, &signed, &l, form).await
        }
        Err(e) => Err(signed.api(e)),
    }
}

/// 本人確認 again with the card form's errors, 422.
async fn refused(
    req: &HttpRequest,
    state: &AppState,
    signed: &Signed,
    l: &Loaded,
    form: CardForm,
) -> Result<HttpResponse, Failure> {
    let mut r = super::visit::identify_page(req, state, signed, l, &form).await?;
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(r)
}

/// The card session `sid` of the visit `id`: one of the clerk's municipality, asked for this
/// visit.
async fn session_for(
    state: &AppState,
    signed: &Signed,
    id: Uuid,
    sid: Uuid,
) -> Result<crate::devices::sessions::CardSession, Failure> {
    let session = session_of(state, signed.session.staff.lg_code, sid)
        .await
        .map_err(|e| signed.api(e))?;
    if session.visit_id != Some(id) {
        return Err(signed.refuse(
            StatusCode::NOT_FOUND,
            t(
                signed.lang,
                "このカード読取りは、この来庁のものではありません。",
                "This card read does not belong to this visit.",
            ),
        ));
    }
    Ok(session)
}

/// `GET /counter/visits/{id}/card/{sid}`: the card read as it goes.
pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, Failure> {
    let (id, sid) = path.into_inner();
    let lang = signed.lang;
    let (l, fragment) = read(&req, &state, &signed, id, sid).await?;
    let title = heading(
        lang,
        &l,
        "マイナンバーカードで確認",
        "Check with the My Number card",
    );
    let markup = page::render(
        frame(&state, &signed, &l, "identify", &title),
        html! {
            h1 tabindex="-1" data-focus-on-swap { (title) }
            div aria-live="polite" { (fragment) }
            div.actions {
                a.dads-button data-type="outline" href={ "/counter/visits/" (id) "/identify" } { (t(lang, "本人確認に戻る", "Back to identification")) }
            }
        },
    );
    Ok(page::ok(markup))
}

/// `GET /counter/visits/{id}/card/{sid}/state`: the state alone, for htmx to swap in.
pub async fn state(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, Failure> {
    let (id, sid) = path.into_inner();
    let (_, fragment) = read(&req, &state, &signed, id, sid).await?;
    Ok(page::ok(fragment))
}

/// The visit and the read's state as shown, for the member the query names (`m1` without).
async fn read(
    req: &HttpRequest,
    state: &AppState,
    signed: &Signed,
    id: Uuid,
    sid: Uuid,
) -> Result<(Loaded, Markup), Failure> {
    let l = load(state, signed, id).await?;
    let member = page::field(&page::query(req), "member")
        .unwrap_or("m1")
        .to_owned();
    let fragment = state_fragment(state, signed, &l, sid, &member).await?;
    Ok((l, fragment))
}

/// The steps a read goes through, as the clerk tells the resident.
const STEPS: [(StateDto, &str, &str); 3] = [
    (
        StateDto::WaitingForCard,
        "カードを読み取り機に置いてください",
        "Put the card on the reader",
    ),
    (
        StateDto::WaitingForPin,
        "暗証番号は読み取り機で入力してください",
        "Type the PIN on the reader",
    ),
    (StateDto::Reading, "読み取っています", "Reading"),
];

fn step_index(s: StateDto) -> usize {
    match s {
        StateDto::WaitingForCard => 0,
        StateDto::WaitingForPin => 1,
        StateDto::Reading => 2,
        StateDto::Verified | StateDto::Failed => 3,
    }
}

async fn state_fragment(
    state: &AppState,
    signed: &Signed,
    l: &Loaded,
    sid: Uuid,
    member: &str,
) -> Result<Markup, Failure> {
    let lang = signed.lang;
    let id = l.visit.id;
    let session = session_for(state, signed, id, sid).await?;
    let dto = shown_session(state, &signed.actor, &session, false, lang)
        .await
        .map_err(|e| signed.api(e))?;
    let at = step_index(dto.state);
    let here = format!("/counter/visits/{id}/card/{sid}");
    let member_q: String = form_urlencoded::byte_serialize(member.as_bytes()).collect::<String>();
    Ok(match dto.state {
        StateDto::Verified => verified(state, signed, l, &dto, &here, member),
        StateDto::Failed => html! {
            div #card-state data-state="failed" {
                div.dads-notification-banner data-type="error" role="alert" {
                    h2 { (t(lang, "カードで確認できませんでした", "The card could not be checked")) }
                    @if let Some(f) = &dto.failure {
                        p #card-failure { (f.message) }
                        @if let Some(n) = f.tries_left {
                            p { (match lang { Lang::Ja => format!("あと{n}回間違えるとロックされます。"), Lang::En => format!("{n} tries left before it locks.") }) }
                        }
                    }
                }
                p { a href={ "/counter/visits/" (id) "/identify#card" } { (t(lang, "もう一度読み取る", "Read again")) } }
            }
        },
        _ => html! {
            div #card-state data-state=(state_name(dto.state))
                hx-get={ (here) "/state?member=" (member_q) } hx-trigger="every 1s" hx-swap="outerHTML" {
                ol.card-steps {
                    @for (i, (_, ja, en)) in STEPS.iter().enumerate() {
                        @if i == at {
                            li aria-current="step" { strong { (t(lang, ja, en)) } }
                        } @else if i < at {
                            li { (t(lang, ja, en)) " " span.dads-chip-label data-color="gray" { (t(lang, "済", "done")) } }
                        } @else {
                            li { (t(lang, ja, en)) }
                        }
                    }
                }
                p { (t(lang, "この画面は自動で更新されます。", "This page updates by itself."))
                    " " a href={ (here) "?member=" (member_q) } { (t(lang, "最新の状態を見る", "See the latest state")) } }
            }
        },
    })
}

fn state_name(s: StateDto) -> &'static str {
    match s {
        StateDto::WaitingForCard => "waitingForCard",
        StateDto::WaitingForPin => "waitingForPin",
        StateDto::Reading => "reading",
        StateDto::Verified => "verified",
        StateDto::Failed => "failed",
    }
}

fn sex_label(lang: Lang, code: &str) -> &'static str {
    match code {
        "1" => t(lang, "男", "Male"),
        "2" => t(lang, "女", "Female"),
        _ => t(lang, "—", "—"),
    }
}

fn verified(
    state: &AppState,
    signed: &Signed,
    l: &Loaded,
    dto: &CardSessionDto,
    here: &str,
    member: &str,
) -> Markup {
    let lang = signed.lang;
    let result = dto.result.as_ref();
    let basic = result.and_then(|r| r.basic_info.as_ref());
    let face = result.and_then(|r| r.card_face.as_ref());
    let date = basic
        .and_then(|b| b.date_of_birth)
        .or_else(|| face.and_then(|f| f.date_of_birth));
    let sex = basic
        .map(|b| b.sex.as_str())
        .or_else(|| face.map(|f| f.sex.as_str()));
    html! {
        div #card-state data-state="verified" {
            div.dads-notification-banner data-type="success" role="status" {
                h2 { (t(lang, "カードで確認しました", "Checked with the card")) }
                p { (t(lang, "カードの署名を確かめ、カードが読み取り機にあることも確かめました。", "The card's signatures are valid and the card itself was in the reader.")) }
            }
            table.dads-table__table data-size="dense" #card-facts {
                caption { (t(lang, "カードの基本4情報(この画面だけに表示)", "The card's four basic facts (shown on this screen only)")) }
                tbody {
                    @if let Some(b) = basic {
                        tr { th scope="row" { (t(lang, "氏名", "Name")) } td { (b.name) } }
                        tr { th scope="row" { (t(lang, "住所", "Address")) } td.address { (b.address.text) } }
                    }
                    tr { th scope="row" { (t(lang, "生年月日", "Date of birth")) } td {
                        @if let Some(d) = date { (state.forms.eras.wareki_day(d).unwrap_or_default()) "(" (d) ")" } @else { "—" }
                    } }
                    tr { th scope="row" { (t(lang, "性別", "Sex")) } td { (sex.map(|s| sex_label(lang, s)).unwrap_or("—")) } }
                }
            }
            @if basic.is_none() {
                p { (t(lang, "券面事項確認では氏名と住所は画像だけです。取り込めるのは生年月日と性別です。", "Reading the card face gives the name and address as images only: the date of birth and sex are taken in.")) }
            }
            @if face.is_some_and(|f| f.images.is_some()) {
                figure.card-face {
                    img src={ (here) "/images/name" } alt=(t(lang, "券面の氏名(画像)", "Name as printed on the card")) width="300";
                    img src={ (here) "/images/address" } alt=(t(lang, "券面の住所(画像)", "Address as printed on the card")) width="300";
                    figcaption {
                        (t(lang, "券面の氏名と住所。顔写真はJPEG 2000形式で、ブラウザでは表示できないことがあります: ", "The name and address as printed. The photo is JPEG 2000, which browsers may not show: "))
                        a href={ (here) "/images/photo" } download="photo.jp2" { (t(lang, "顔写真を保存して見る", "Save the photo to view it")) }
                    }
                }
            }
            @if let Some(known) = differs(l, member, basic) {
                div.dads-notification-banner data-type="warning" #card-name-differs {
                    h3 { (t(lang, "氏名が違います", "The name differs")) }
                    p { (match lang {
                        Lang::Ja => format!("選んだ人は「{known}」ですが、カードの氏名は「{}」です。誰のカードかを確かめてから取り込んでください。", basic.map(|b| b.name.as_str()).unwrap_or("")),
                        Lang::En => format!("The person chosen is {known:?}, but the card says {:?}. Check whose card it is before taking it in.", basic.map(|b| b.name.as_str()).unwrap_or("")),
                    }) }
                }
            }
            form method="post" action={ (here) "/take" } {
                input type="hidden" name="csrf" value=(signed.session.csrf);
                input type="hidden" name="revision" value=(l.visit.revision);
                label for="card-take-member" { (t(lang, "誰として取り込むか", "Take in as")) }
                " "
                select.dads-select #card-take-member name="member" {
                    @for m in &l.dto.members {
                        option value=(m.id) selected[m.id == member] { (member_name(lang, &l.dto, &m.id)) }
                    }
                }
                " "
                button.dads-button data-type="solid-fill" type="submit" hx-disabled-elt="this" { (t(lang, "取り込む", "Take in")) }
            }
        }
    }
}

/// The member's name as the visit knows it, when it is not the card's (spaces aside): a card
/// about to be taken into the wrong person.
fn differs(
    l: &Loaded,
    member: &str,
    basic: Option<&crate::http::v1::card_sessions::BasicInfoDto>,
) -> Option<String> {
    let basic = basic?;
    let m = l.dto.members.iter().find(|m| m.id == member)?;
    let known = |name: &str| {
        super::visit::fact(&m.facts, name).and_then(|f| f.value.as_str().map(str::to_owned))
    };
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let visit_name = match (known("familyName"), known("givenName"), known("fullName")) {
        (Some(f), Some(g), _) => format!("{f}{g}"),
        (_, _, Some(full)) => full,
        // Only a family name: compare what is known.
        (Some(f), None, _) => {
            return (!squeeze(&basic.name).starts_with(&squeeze(&f))).then_some(f);
        }
        _ => return None,
    };
    (squeeze(&visit_name) != squeeze(&basic.name)).then_some(visit_name)
}

/// `POST /counter/visits/{id}/card/{sid}/take`: the verified facts into a member.
pub async fn take(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, Failure> {
    let (id, sid) = path.into_inner();
    let lang = signed.lang;
    let Some(member) = signed.fields.get("member") else {
        return Err(signed.refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            t(
                lang,
                "誰として取り込むかを選んでください。",
                "Choose whom to take the card in as.",
            ),
        ));
    };
    session_for(&state, &signed, id, sid).await?;
    let expected = revision_of(&signed);
    let change = take_card(
        &state,
        signed.session.staff.lg_code,
        &signed.actor,
        id,
        sid,
        member,
        expected.as_deref(),
    )
    .await;
    back_to_identify(&signed, id, change, "card")
}

/// `GET /counter/visits/{id}/card/{sid}/images/{which}`: a card-face image for the clerk's
/// screen, never cached.
pub async fn image(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<(Uuid, Uuid, String)>,
) -> Result<HttpResponse, Failure> {
    let (id, sid, which) = path.into_inner();
    let which = match which.as_str() {
        "name" => FaceImage::Name,
        "address" => FaceImage::Address,
        "photo" => FaceImage::Photo,
        _ => {
            return Err(signed.refuse(
                StatusCode::NOT_FOUND,
                t(
                    signed.lang,
                    "券面の画像は name・address・photo だけです。",
                    "The card face's images are name, address and photo.",
                ),
            ));
        }
    };
    session_for(&state, &signed, id, sid).await?;
    let bytes = card_image(
        &state,
        &signed.actor,
        signed.session.staff.lg_code,
        sid,
        which,
    )
    .await
    .map_err(|e| signed.api(e))?;
    Ok(HttpResponse::Ok()
        .content_type(crate::card::kenkaku::image_media_type(&bytes))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matching_number_is_taken_as_typed_on_a_japanese_keyboard() {
        assert_eq!(
            matching_number("５５０２１７ ２０３６ １２３４"),
            "55021720361234"
        );
        assert_eq!(matching_number("550217-2036-1234"), "55021720361234");
        assert_eq!(matching_number(""), "");
    }

    #[test]
    fn each_state_has_its_step() {
        assert_eq!(step_index(StateDto::WaitingForPin), 1);
        assert_eq!(state_name(StateDto::Reading), "reading");
    }
}
