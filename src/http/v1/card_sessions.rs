//! `/v1/municipalities/{lgCode}/card-sessions` (scope `card`, `Madoguchi-Actor` required): a
//! counter app asks for a resident's My Number card to be read at a counter PC, then follows
//! the session (long-poll) through `waitingForCard`, `waitingForPin`, `reading` to `verified`
//! with the 基本4情報 in standard form and the evidence, or `failed` with what the clerk can do.
//! The 個人番号 leaves the gateway only for `readMyNumber`, to a client with `mynumber:read`,
//! for a visit.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{Action, AuditEntry};
use crate::auth::Scope;
use crate::card::session::{FaceImage, FailureCode, Purpose, State, Verified};
use crate::card::standard;
use crate::card::verify::Outcome;
use crate::devices::DeviceState;
use crate::devices::sessions::CardSession;
use crate::http::auth::{Clerk, scopes};
use crate::http::extract::ApiJson;
use crate::http::headers::{IdempotencyKeyHeader, StaffHeader};
use crate::http::middleware::idempotency::Idempotent;
use crate::http::problem::{ApiError, ProblemDoc, ProblemKind};
use crate::http::state::AppState;
use crate::i18n::{Lang, Text};
use crate::tenancy::LgCode;
use crate::validation::FieldError;

/// The longest a GET waits for a change (below the request timeout).
const MAX_WAIT_SECONDS: u64 = 25;
/// How often a waiting GET looks again.
const WAIT_POLL: Duration = Duration::from_millis(200);

/// What the card is read for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardPurpose)]
pub enum PurposeDto {
    /// 基本4情報 with the resident's PIN, typed at the counter PC.
    ReadBasicInfo,
    /// 基本4情報 with 照合番号B (no PIN): send matchingNumberB.
    ReadBasicInfoByCardFace,
    /// The card face, checked with the three-digest rule: send matchingNumberB.
    ReadCardFace,
    /// JPKI 利用者証明用 authentication with the PIN.
    Authenticate,
    /// 基本4情報 and the 個人番号 with the PIN: scope mynumber:read and a visitId.
    ReadMyNumber,
}

impl From<PurposeDto> for Purpose {
    fn from(p: PurposeDto) -> Self {
        match p {
            PurposeDto::ReadBasicInfo => Purpose::ReadBasicInfo,
            PurposeDto::ReadBasicInfoByCardFace => Purpose::ReadBasicInfoByCardFace,
            PurposeDto::ReadCardFace => Purpose::ReadCardFace,
            PurposeDto::Authenticate => Purpose::Authenticate,
            PurposeDto::ReadMyNumber => Purpose::ReadMyNumber,
        }
    }
}

impl From<Purpose> for PurposeDto {
    fn from(p: Purpose) -> Self {
        match p {
            Purpose::ReadBasicInfo => PurposeDto::ReadBasicInfo,
            Purpose::ReadBasicInfoByCardFace => PurposeDto::ReadBasicInfoByCardFace,
            Purpose::ReadCardFace => PurposeDto::ReadCardFace,
            Purpose::Authenticate => PurposeDto::Authenticate,
            Purpose::ReadMyNumber => PurposeDto::ReadMyNumber,
        }
    }
}

/// A card to read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(
    as = NewCardSession,
    example = json!({
        "deviceId": "01938a6e-7c1f-7cc3-9a5e-3b2f0c4d5e6f",
        "purpose": "readBasicInfoByCardFace",
        "matchingNumberB": "55021720361234"
    })
)]
pub struct NewCardSessionDto {
    /// The counter PC whose reader holds the card.
    #[schema(example = "01938a6e-7c1f-7cc3-9a5e-3b2f0c4d5e6f")]
    pub device_id: Uuid,
    pub purpose: PurposeDto,
    /// The visit the read serves (required for readMyNumber).
    pub visit_id: Option<Uuid>,
    /// 照合番号B from the card face: date of birth (YYMMDD), expiry year (YYYY) and security
    /// code (4 digits), typed by the clerk.
    #[schema(example = "55021720361234", pattern = "^[0-9]{14}$")]
    pub matching_number_b: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardSessionState)]
pub enum StateDto {
    WaitingForCard,
    WaitingForPin,
    Reading,
    Verified,
    Failed,
}

impl From<State> for StateDto {
    fn from(s: State) -> Self {
        match s {
            State::WaitingForCard => StateDto::WaitingForCard,
            State::WaitingForPin => StateDto::WaitingForPin,
            State::Reading => StateDto::Reading,
            State::Verified => StateDto::Verified,
            State::Failed => StateDto::Failed,
        }
    }
}

/// An address as the card writes it, split per DS-442 where it can be.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardAddress)]
pub struct AddressDto {
    /// 住所 exactly as on the card.
    pub text: String,
    pub prefecture: Option<String>,
    pub city: Option<String>,
    /// 町字.
    pub street_address: Option<String>,
    /// 番地以下 in standard form (`2-10`).
    pub city_block: Option<String>,
    /// 方書.
    pub building_name_etc: Option<String>,
}

/// 基本4情報 in standard form.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardBasicInfo)]
pub struct BasicInfoDto {
    /// 氏名 byte for byte as the card holds it.
    pub name: String,
    /// Set when the card separates family and given name with a full-width space.
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    /// `1` 男, `2` 女, `9` 適用不能.
    pub sex: String,
    pub address: AddressDto,
}

/// What the card face says, and where its signed images are while the result is kept.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardFaceFacts)]
pub struct CardFaceDto {
    pub date_of_birth: Option<NaiveDate>,
    pub sex: String,
    /// The images the card signed (name and address PNG, photo JPEG 2000), for the clerk's
    /// screen: GET them while the result is kept, never store them.
    pub images: Option<CardFaceImagesDto>,
}

/// Where the card face's images are.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardFaceImages)]
pub struct CardFaceImagesDto {
    /// 氏名 as printed on the card (PNG).
    #[schema(
        example = "/v1/municipalities/012084/card-sessions/01938a6e-7c1f-7cc3-9a5e-3b2f0c4d5e6f/images/name"
    )]
    pub name: String,
    /// 住所 as printed on the card (PNG).
    pub address: String,
    /// 顔写真 (JPEG 2000).
    pub photo: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardCheck)]
pub struct CheckDto {
    /// `cvc.caKey`, `cvc.signature`, `ef0003.signature`, `ef0002.digest`, `card.challenge`,
    /// `kenkaku.signature`, `jpki.chain` …
    pub id: String,
    pub outcome: CheckOutcomeDto,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardCheckOutcome)]
pub enum CheckOutcomeDto {
    Passed,
    Failed,
    NotChecked,
}

/// Why the gateway believes the card.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardEvidence)]
pub struct EvidenceDto {
    pub checks: Vec<CheckDto>,
    /// The J-LIS CVC CA key the card's certificate names.
    pub ca_key_id: Option<String>,
    /// The municipality that issued the card, from its signing key.
    pub issuing_lg_code: Option<String>,
    /// The card signed the gateway's fresh nonce (it is in the reader, not a copy).
    pub challenge_passed: bool,
    /// JPKI: the 利用者証明用 certificate's serial number (hex).
    pub certificate_serial: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardResult)]
pub struct ResultDto {
    pub basic_info: Option<BasicInfoDto>,
    /// The 個人番号: readMyNumber, to a client with mynumber:read, only.
    pub my_number: Option<String>,
    pub card_face: Option<CardFaceDto>,
    pub evidence: EvidenceDto,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardFailureCode)]
pub enum FailureCodeDto {
    WrongPin,
    /// 照合番号B does not match the card face (triesLeft says how many are left).
    WrongMatchingNumber,
    PinBlocked,
    MatchingNumberBlocked,
    CardRemoved,
    NotMyNumberCard,
    SignatureInvalid,
    Expired,
    Revoked,
    ReaderError,
    Declined,
    TimedOut,
    NotConfigured,
    CardError,
}

impl From<FailureCode> for FailureCodeDto {
    fn from(c: FailureCode) -> Self {
        match c {
            FailureCode::WrongPin => FailureCodeDto::WrongPin,
            FailureCode::WrongMatchingNumber => FailureCodeDto::WrongMatchingNumber,
            FailureCode::PinBlocked => FailureCodeDto::PinBlocked,
            FailureCode::MatchingNumberBlocked => FailureCodeDto::MatchingNumberBlocked,
            FailureCode::CardRemoved => FailureCodeDto::CardRemoved,
            FailureCode::NotMyNumberCard => FailureCodeDto::NotMyNumberCard,
            FailureCode::SignatureInvalid => FailureCodeDto::SignatureInvalid,
            FailureCode::Expired => FailureCodeDto::Expired,
            FailureCode::Revoked => FailureCodeDto::Revoked,
            FailureCode::ReaderError => FailureCodeDto::ReaderError,
            FailureCode::Declined => FailureCodeDto::Declined,
            FailureCode::TimedOut => FailureCodeDto::TimedOut,
            FailureCode::NotConfigured => FailureCodeDto::NotConfigured,
            FailureCode::CardError => FailureCodeDto::CardError,
        }
    }
}

/// Why the session failed, and what to tell the resident.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardFailure)]
pub struct FailureDto {
    pub code: FailureCodeDto,
    /// For the clerk, in the language asked for (Accept-Language).
    pub message: String,
    /// wrongPin, wrongMatchingNumber: tries left before the key locks.
    pub tries_left: Option<u8>,
    /// The check that failed (signatureInvalid, expired, revoked).
    pub check: Option<String>,
}

/// A card session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardSession)]
pub struct CardSessionDto {
    pub card_session_id: Uuid,
    pub device_id: Uuid,
    pub purpose: PurposeDto,
    pub state: StateDto,
    pub visit_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The card must be read by then.
    pub expires_at: DateTime<Utc>,
    /// When verified (kept for `card.result_minutes`, then forgotten: null).
    pub result: Option<ResultDto>,
    pub failure: Option<FailureDto>,
}

fn result_dto(
    v: &Verified,
    show_number: bool,
    municipality: &[&str],
    session_url: &str,
) -> ResultDto {
    ResultDto {
        basic_info: v.basic_info.as_ref().map(|b| {
            let s = standard::basic_info(b, municipality);
            BasicInfoDto {
                name: s.name,
                family_name: s.family_name,
                given_name: s.given_name,
                date_of_birth: s.date_of_birth,
                sex: s.sex,
                address: AddressDto {
                    text: s.address.text,
                    prefecture: s.address.prefecture,
                    city: s.address.city,
                    street_address: s.address.street_address,
                    city_block: s.address.city_block,
                    building_name_etc: s.address.building_name_etc,
                },
            }
        }),
        my_number: if show_number {
            v.my_number.clone()
        } else {
            None
        },
        card_face: v.card_face.as_ref().map(|f| CardFaceDto {
            date_of_birth: crate::card::kenhojo::card_date(&f.date_of_birth),
            sex: f.sex.clone(),
            images: f.images.as_ref().map(|_| CardFaceImagesDto {
                name: format!("{session_url}/images/name"),
                address: format!("{session_url}/images/address"),
                photo: format!("{session_url}/images/photo"),
            }),
        }),
        evidence: EvidenceDto {
            checks: v
                .checks
                .iter()
                .map(|c| CheckDto {
                    id: c.id.clone(),
                    outcome: match c.outcome {
                        Outcome::Passed => CheckOutcomeDto::Passed,
                        Outcome::Failed => CheckOutcomeDto::Failed,
                        Outcome::NotChecked => CheckOutcomeDto::NotChecked,
                    },
                    detail: c.detail.clone(),
                })
                .collect(),
            ca_key_id: v.ca_key_id.clone(),
            issuing_lg_code: v.issuing_lg_code.clone(),
            challenge_passed: v.challenge_passed,
            certificate_serial: v.certificate_serial.clone(),
        },
    }
}

fn session_dto(
    s: &CardSession,
    lang: Lang,
    show_number: bool,
    municipality: &[&str],
) -> CardSessionDto {
    let now = Utc::now();
    let state = s.effective_state(now);
    let (result, failure) = match (&s.outcome, state) {
        (Some(Ok(v)), _) => {
            let url = format!("/v1/municipalities/{}/card-sessions/{}", s.lg_code, s.id);
            (Some(result_dto(v, show_number, municipality, &url)), None)
        }
        (Some(Err(f)), _) => (
            None,
            Some(FailureDto {
                code: f.code.into(),
                message: f.message().get(lang).to_owned(),
                tries_left: f.tries_left,
                check: f.check.clone(),
            }),
        ),
        (None, State::Failed) => {
            let f = crate::card::session::Failure::new(FailureCode::TimedOut);
            (
                None,
                Some(FailureDto {
                    code: f.code.into(),
                    message: f.message().get(lang).to_owned(),
                    tries_left: None,
                    check: None,
                }),
            )
        }
        (None, _) => (None, None),
    };
    CardSessionDto {
        card_session_id: s.id,
        device_id: s.device_id,
        purpose: s.purpose.into(),
        state: state.into(),
        visit_id: s.visit_id,
        created_at: s.created_at,
        updated_at: s.updated_at,
        expires_at: s.expires_at,
        result,
        failure,
    }
}

/// The card session `id` of the municipality `code`, with its result while it is kept.
pub(crate) async fn session_of(
    state: &AppState,
    code: LgCode,
    id: Uuid,
) -> Result<CardSession, ApiError> {
    state
        .store
        .card_session(
            id,
            state.server_key.as_ref(),
            state.settings.card.result_keep(),
        )
        .await?
        .filter(|s| s.lg_code == code)
        .ok_or_else(|| {
            ApiError::not_found(Text::new(
                format!("カード読取り {id} はこの団体にありません。"),
                format!("There is no card session {id} in this municipality."),
            ))
        })
}

/// Ask for a card to be read at a counter PC.
#[utoipa::path(
    tag = "card",
    params(
        ("lgCode" = String, Path, description = "全国地方公共団体コード", example = "012084"),
        StaffHeader,
        IdempotencyKeyHeader,
    ),
    request_body(content = NewCardSessionDto, content_type = "application/json"),
    responses(
        (status = 201, description = "Asked: the counter PC's bridge takes it; follow it with GET", body = CardSessionDto,
            headers(("Location" = String, description = "URL of the card session"))),
        (status = 400, description = "Malformed JSON, lgCode or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope card (and for readMyNumber mynumber:read) missing, or another municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such counter PC or visit in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The counter PC is not enrolled or is revoked, or the same Idempotency-Key is still running", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (matchingNumberB, visitId), or an Idempotency-Key reused", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "The client holds as many Idempotency-Keys as it may", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["card"]))
)]
#[post(
    "/municipalities/{lgCode}/card-sessions",
    wrap = "Idempotent::requiring(Scope::Card)"
)]
pub async fn create_card_session(
    auth: Clerk<scopes::Card>,
    state: web::Data<AppState>,
    body: ApiJson<NewCardSessionDto>,
    lang: Lang,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let body = body.0;
    if Purpose::from(body.purpose) == Purpose::ReadMyNumber
        && !auth.principal.has_scope(Scope::MyNumberRead)
    {
        return Err(crate::http::auth::insufficient_scope(Scope::MyNumberRead));
    }
    let session = ask_card(&state, code, &auth.actor, body).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/v1/municipalities/{code}/card-sessions/{}", session.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(session_dto(&session, lang, false, &[])))
}

/// Asks the counter PC `body.device_id` of the municipality `code` to read a card for
/// `actor`: the fields checked, the PC active, the visit (if any) one the actor may read. The
/// caller has checked that the actor may read a 個人番号 when the purpose is readMyNumber.
pub(crate) async fn ask_card(
    state: &AppState,
    code: LgCode,
    actor: &crate::audit::Actor,
    body: NewCardSessionDto,
) -> Result<CardSession, ApiError> {
    let purpose = Purpose::from(body.purpose);
    let mut errors = Vec::new();
    if purpose == Purpose::ReadMyNumber && state.server_key.is_none() {
        // A 個人番号 is never stored unsealed, and without a server key nothing can seal it.
        errors.push(FieldError::new(
            "/purpose",
            "needs_server_key",
            Text::new(
                "このゲートウェイにはサーバー鍵(secrets.key_path)が設定されていないため、個人番号は読み取れません。運用担当に設定を依頼してください。",
                "This gateway has no server key (secrets.key_path), so it cannot read a 個人番号: ask the operators to configure one.",
            ),
        ));
    }
    let matching_b = match (&body.matching_number_b, purpose.needs_matching_number()) {
        (Some(d), true) if d.len() == 14 && d.bytes().all(|b| b.is_ascii_digit()) => {
            Some(d.clone())
        }
        (_, true) => {
            errors.push(FieldError::new(
                "/matchingNumberB",
                "matching_number_b",
                Text::new(
                    "照合番号Bを14桁の数字で入れてください(生年月日YYMMDD・有効期限の西暦年YYYY・セキュリティコード4桁)。",
                    "matchingNumberB must be 14 digits: date of birth YYMMDD, expiry year YYYY, security code.",
                ),
            ));
            None
        }
        (Some(_), false) => {
            errors.push(FieldError::new(
                "/matchingNumberB",
                "not_for_purpose",
                Text::new(
                    "この読取り目的では照合番号Bを送らないでください(暗証番号は窓口端末で入力します)。",
                    "Do not send matchingNumberB for this purpose (the PIN is typed at the counter PC).",
                ),
            ));
            None
        }
        (None, false) => None,
    };
    if purpose == Purpose::ReadMyNumber && body.visit_id.is_none() {
        errors.push(FieldError::new(
            "/visitId",
            "required",
            Text::new(
                "個人番号の読取りは来庁(visitId)のためにだけ行えます。",
                "readMyNumber needs the visit (visitId) it serves.",
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let device = state
        .store
        .device(body.device_id)
        .await?
        .filter(|d| d.lg_code == code)
        .ok_or_else(|| {
            ApiError::not_found(Text::new(
                format!(
                    "窓口端末 {} はこの団体に登録されていません。",
                    body.device_id
                ),
                format!(
                    "Counter PC {} is not registered for this municipality.",
                    body.device_id
                ),
            ))
        })?;
    if device.state(Utc::now()) != DeviceState::Active {
        return Err(ApiError::new(
            ProblemKind::DeviceNotActive,
            Text::new(
                format!(
                    "窓口端末「{}」は登録が済んでいないか失効しています。",
                    device.counter_name
                ),
                format!(
                    "Counter PC {:?} has not enrolled or is revoked.",
                    device.counter_name
                ),
            ),
        ));
    }
    if let Some(visit) = body.visit_id
        && state.store.read_visit(&code, visit, actor).await?.is_none()
    {
        return Err(ApiError::not_found(Text::new(
            format!("来庁 {visit} はこの団体にありません。"),
            format!("There is no visit {visit} in this municipality."),
        )));
    }
    let now = crate::clock::now();
    let session = CardSession {
        id: Uuid::now_v7(),
        lg_code: code,
        device_id: device.id,
        purpose,
        state: State::WaitingForCard,
        visit_id: body.visit_id,
        matching_b,
        outcome: None,
        client_id: actor.client_id.clone(),
        staff: actor.staff.clone(),
        created_at: now,
        updated_at: now,
        expires_at: now
            + chrono::Duration::seconds(
                i64::try_from(state.settings.card.session_seconds).unwrap_or(120),
            ),
    };
    state
        .store
        .create_card_session(&session, actor, state.server_key.as_ref())
        .await?;
    state.card_signals.asked.notify_waiters();
    Ok(session)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct WaitParams {
    /// Wait up to this many seconds (0–25) for the session to leave `unlessState` (or, without
    /// it, to end) before answering: a long poll.
    #[param(minimum = 0, maximum = 25, example = 0)]
    pub wait_seconds: Option<u64>,
    /// The state the caller saw last: answer as soon as the session is in another.
    #[param(value_type = Option<StateDto>)]
    pub unless_state: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SessionPath {
    /// 全国地方公共団体コード.
    #[serde(rename = "lgCode")]
    #[allow(dead_code)] // Authorized reads and checks it from the path.
    #[param(rename = "lgCode", example = "012084")]
    pub lg_code: String,
    /// The card session's id.
    #[serde(rename = "cardSessionId")]
    #[param(rename = "cardSessionId")]
    pub card_session_id: Uuid,
}

/// Follow a card session. With `waitSeconds`, the answer waits for a change (long poll).
#[utoipa::path(
    tag = "card",
    params(
        SessionPath,
        WaitParams,
        StaffHeader,
    ),
    responses(
        (status = 200, description = "The session; result once verified, failure once failed", body = CardSessionDto),
        (status = 400, description = "Malformed lgCode, id, query or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope card missing, or another municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such card session in this municipality", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["card"]))
)]
#[get("/municipalities/{lgCode}/card-sessions/{cardSessionId}")]
pub async fn get_card_session(
    auth: Clerk<scopes::Card>,
    state: web::Data<AppState>,
    path: web::Path<SessionPath>,
    query: web::Query<WaitParams>,
    lang: Lang,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let wait = query.wait_seconds.unwrap_or(0);
    if wait > MAX_WAIT_SECONDS {
        return Err(ApiError::new(
            ProblemKind::InvalidRequest,
            Text::new(
                format!("waitSeconds は0〜{MAX_WAIT_SECONDS}で指定してください。"),
                format!("waitSeconds must be 0 to {MAX_WAIT_SECONDS}."),
            ),
        ));
    }
    let unless = match query.unless_state.as_deref() {
        Some(s) => Some(State::parse(s).ok_or_else(|| {
            ApiError::new(
                ProblemKind::InvalidRequest,
                Text::new(
                    format!("unlessState「{s}」はカード読取りの状態ではありません。"),
                    format!("unlessState {s:?} is not a card session state."),
                ),
            )
        })?),
        None => None,
    };
    let id = path.card_session_id;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let session = loop {
        // Registered before the read, so a change between the read and the wait is not missed.
        let wake = state.card_signals.changed.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let session = session_of(&state, code, id).await?;
        let now_state = session.effective_state(Utc::now());
        let changed = match unless {
            Some(seen) => now_state != seen,
            None => now_state.is_final(),
        };
        if changed || tokio::time::Instant::now() >= deadline {
            break session;
        }
        // Woken at once by a change on this replica; another replica's change shows within
        // a poll.
        let _ = tokio::time::timeout(WAIT_POLL, wake).await;
    };
    let show_number =
        session.purpose == Purpose::ReadMyNumber && auth.principal.has_scope(Scope::MyNumberRead);
    let dto = shown_session(&state, &auth.actor, &session, show_number, lang).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(dto))
}

/// A card session as shown to `actor`: a verified result's reading audited, the address split
/// with the municipality's name known.
pub(crate) async fn shown_session(
    state: &AppState,
    actor: &crate::audit::Actor,
    session: &CardSession,
    show_number: bool,
    lang: Lang,
) -> Result<CardSessionDto, ApiError> {
    let code = session.lg_code;
    if matches!(session.outcome, Some(Ok(_))) {
        state
            .store
            .record_audit(AuditEntry::success(
                actor,
                Action::CardSessionRead,
                Some(code),
                format!("card-session:{}", session.id),
            ))
            .await?;
    }
    let municipality = state
        .municipalities
        .municipality(&code)
        .await?
        .map(|m| m.name.clone());
    let names: Vec<&str> = municipality.as_deref().into_iter().collect();
    Ok(session_dto(session, lang, show_number, &names))
}

/// Which image of the card face.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CardFaceImage)]
pub enum ImageDto {
    Name,
    Address,
    Photo,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ImagePath {
    /// 全国地方公共団体コード.
    #[serde(rename = "lgCode")]
    #[allow(dead_code)] // Authorized reads and checks it from the path.
    #[param(rename = "lgCode", example = "012084")]
    pub lg_code: String,
    /// The card session's id.
    #[serde(rename = "cardSessionId")]
    #[param(rename = "cardSessionId")]
    pub card_session_id: Uuid,
    /// `name`, `address` or `photo`.
    #[param(inline, example = "photo")]
    pub image: ImageDto,
}

/// An image of the card face, as the card holds it.
pub struct CardImage;

impl utoipa::PartialSchema for CardImage {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("The image's bytes as the card signed them"))
            // Generators (openapi-python-client) type a body as a file by this format.
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .into()
    }
}

impl utoipa::ToSchema for CardImage {}

/// One image of a verified card face (`readCardFace`): the name or address as printed (PNG)
/// or the photo (JPEG 2000), exactly as the card signed it, for the clerk to compare with the
/// resident. Served only while the result is kept (`card.result_minutes`); never cached.
#[utoipa::path(
    tag = "card",
    params(
        ImagePath,
        StaffHeader,
    ),
    responses(
        (status = 200, description = "The image: image/png (name, address), image/jp2 or image/j2c (photo)", content(
            (inline(CardImage) = "image/png"),
            (inline(CardImage) = "image/jp2"),
            (inline(CardImage) = "image/j2c"),
        )),
        (status = 400, description = "Malformed lgCode, id, image or Madoguchi-Actor", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Scope card missing, or another municipality", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such card session here, not a verified card face, or its result already forgotten", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2" = ["card"]))
)]
#[get("/municipalities/{lgCode}/card-sessions/{cardSessionId}/images/{image}")]
pub async fn get_card_image(
    auth: Clerk<scopes::Card>,
    state: web::Data<AppState>,
    path: web::Path<ImagePath>,
) -> Result<HttpResponse, ApiError> {
    let code = auth.municipality()?;
    let which = match path.image {
        ImageDto::Name => FaceImage::Name,
        ImageDto::Address => FaceImage::Address,
        ImageDto::Photo => FaceImage::Photo,
    };
    let bytes = card_image(&state, &auth.actor, code, path.card_session_id, which).await?;
    Ok(HttpResponse::Ok()
        .content_type(crate::card::kenkaku::image_media_type(&bytes))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(bytes))
}

/// One image of the card face a verified `readCardFace` session `id` holds, its reading
/// audited; 404 once the result is forgotten.
pub(crate) async fn card_image(
    state: &AppState,
    actor: &crate::audit::Actor,
    code: LgCode,
    id: Uuid,
    which: FaceImage,
) -> Result<Vec<u8>, ApiError> {
    let session = session_of(state, code, id).await?;
    let images = match &session.outcome {
        Some(Ok(v)) => v.card_face.as_ref().and_then(|f| f.images.as_ref()),
        _ => None,
    };
    let Some(images) = images else {
        let minutes = state.settings.card.result_minutes;
        return Err(ApiError::not_found(Text::new(
            format!(
                "カード読取り {id} には券面の画像がありません(券面事項確認で確認済みの読取りだけが画像を持ち、{minutes}分後に消去されます)。もう一度読み取ってください。"
            ),
            format!(
                "Card session {id} has no card-face images: only a verified readCardFace has them, and they are forgotten after {minutes} minutes. Read the card again."
            ),
        )));
    };
    let bytes = images.get(which).to_vec();
    state
        .store
        .record_audit(AuditEntry::success(
            actor,
            Action::CardSessionRead,
            Some(code),
            format!("card-session:{id}/images/{}", which.as_str()),
        ))
        .await?;
    Ok(bytes)
}
