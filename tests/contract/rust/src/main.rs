//! A vendor's counter app, written against the Rust client openapi-generator makes of
//! openapi/openapi.json, walking the visits the TypeScript and Python programs walk: a move-in
//! (a typed answer, the drafts matched by their form, an edit with If-Match and the stale one
//! refused) and a 住民票の写し from the new visit to the receipt, every value typed (an answer by
//! its fact, a draft by its form, the codes as enums). Reads VENDOR_GATEWAY_URL,
//! VENDOR_CLIENT_ID and VENDOR_CLIENT_SECRET; exits non-zero on the first surprise.

use madoguchi_client::apis::configuration::Configuration;
use madoguchi_client::apis::{Error, oauth_api, visits_api};
use madoguchi_client::models::{
    self, Answer, AnswerMemberHasMyNumberCard, Confirm, Draft, DraftEdit, NewApplicant,
    NewLifeEvent, NewLifeEventFacts, NewMember, NewVisit,
};

const LG_CODE: &str = "012084";
const CLERK: &str = "clerk-0042";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Configuration::new();
    config.base_path = env("VENDOR_GATEWAY_URL");
    let token = oauth_api::token(
        &config,
        Some(&env("VENDOR_CLIENT_ID")),
        Some(&env("VENDOR_CLIENT_SECRET")),
        Some("client_credentials"),
        Some("forms visits"),
    )
    .await?;
    config.oauth_access_token = Some(token.access_token);
    move_in_visit(&config).await?;
    certificate_visit(&config).await
}

/// A member of the household, as the clerk types it.
fn member(
    id: &str,
    given: &str,
    relationship: models::new_member::Relationship,
    born: &str,
) -> NewMember {
    let mut m = NewMember::new(id.to_owned());
    m.family_name = Some(Some("山田".to_owned()));
    m.given_name = Some(Some(given.to_owned()));
    m.relationship = Some(Some(relationship));
    m.date_of_birth = Some(Some(born.to_owned()));
    m.insurance = Some(Some(models::new_member::Insurance::NationalHealth));
    m
}

/// A household moves in: a typed answer, the drafts matched by their form, one edit sent with
/// If-Match, and the same edit with the old revision refused with 412.
async fn move_in_visit(config: &Configuration) -> Result<(), Box<dyn std::error::Error>> {
    use models::new_member::Relationship;
    let mut event = NewLifeEvent::new(
        "2026-12-01".to_owned(),
        models::new_life_event::Kind::MoveIn,
    );
    let mut facts = NewLifeEventFacts::new();
    facts.from = Some(models::new_life_event_facts::From::OtherMunicipality);
    facts.card_special_move_in = Some(false);
    event.facts = Some(Box::new(facts));
    let mut applicant = NewApplicant::new();
    applicant.member = Some(Some("m1".to_owned()));
    let members = vec![
        member("m1", "太郎", Relationship::Householder, "1988-04-10"),
        member("m2", "一郎", Relationship::Child, "2018-09-01"),
    ];
    let visit = visits_api::create_visit(
        config,
        LG_CODE,
        CLERK,
        NewVisit::new(applicant, vec![event], members),
        None,
    )
    .await?;
    let id = visit.id.to_string();
    let answers = models::AnswerBatch::new(vec![Answer::AnswerMemberHasMyNumberCard(Box::new(
        AnswerMemberHasMyNumberCard::new(
            models::answer_member_has_my_number_card::Fact::MemberHasMyNumberCard,
            "m1".to_owned(),
            false,
        ),
    ))]);
    let determination =
        visits_api::post_answers(config, LG_CODE, &id, CLERK, answers, None, None).await?;
    let needed: Vec<&str> = determination
        .needed
        .iter()
        .map(|n| n.procedure_id.as_str())
        .collect();
    println!("needed: {}", needed.join(", "));

    let drafts = visits_api::get_drafts(config, LG_CODE, &id, CLERK).await?;
    let mut insurance = None;
    for draft in &drafts.drafts {
        match draft {
            Draft::DraftResidentMove10(d) => {
                let names: Vec<String> = d
                    .document
                    .members
                    .iter()
                    .flatten()
                    .map(|m| {
                        format!(
                            "{} {}",
                            m.family_name.clone().unwrap_or_default(),
                            m.given_name.clone().unwrap_or_default()
                        )
                    })
                    .collect();
                println!(
                    "{}: {} ({:?}) for {}",
                    d.key,
                    d.form_title,
                    d.document.notification_type,
                    names.join(", ")
                );
            }
            Draft::DraftNationalHealthInsurance10(d) => insurance = Some(d.key.clone()),
            _ => {}
        }
    }
    let key =
        insurance.ok_or("no national health insurance draft for a household moving in on it")?;
    // The visit's ETag is its revision ("v12"), as every answer about it says.
    let read = visits_api::get_visit(config, LG_CODE, &id, CLERK).await?;
    let revision = format!("\"v{}\"", read.revision);
    let mut edit = DraftEdit::new();
    edit.set = Some(serde_json::json!({"/qualificationConfirmationDelivery": "窓口"}));
    let edited = visits_api::patch_draft(
        config,
        LG_CODE,
        &id,
        &key,
        CLERK,
        edit.clone(),
        Some(&revision),
    )
    .await?;
    let Draft::DraftNationalHealthInsurance10(edited) = edited else {
        return Err("the edited draft is not the insurance form".into());
    };
    if edited.document.qualification_confirmation_delivery
        != Some(models::form_draft_national_health_insurance_1_0::QualificationConfirmationDelivery::AtCounter)
    {
        return Err("the edit should show in the insurance draft".into());
    }
    println!(
        "{}: delivery {:?}",
        edited.key, edited.document.qualification_confirmation_delivery
    );
    match visits_api::patch_draft(config, LG_CODE, &id, &key, CLERK, edit, Some(&revision)).await {
        Err(Error::ResponseError(r)) if r.status.as_u16() == 412 => println!("a stale edit: 412"),
        other => return Err(format!("a stale edit should be refused with 412: {other:?}").into()),
    }
    let closed = visits_api::close_visit(config, LG_CODE, &id, CLERK, None, None).await?;
    if closed.status != models::VisitStatus::Closed {
        return Err("the visit should be closed".into());
    }
    Ok(())
}

/// A 住民票の写し to the end: the draft completed, confirmed, submitted, the receipt read.
async fn certificate_visit(config: &Configuration) -> Result<(), Box<dyn std::error::Error>> {
    let mut event = NewLifeEvent::new(
        "2026-12-03".to_owned(),
        models::new_life_event::Kind::CertificateRequest,
    );
    let mut facts = NewLifeEventFacts::new();
    facts.certificates = Some(vec![
        models::new_life_event_facts::Certificates::ResidentRecordCopy,
    ]);
    event.facts = Some(Box::new(facts));
    let mut member = NewMember::new("m1".to_owned());
    member.family_name = Some(Some("田中".to_owned()));
    member.given_name = Some(Some("修".to_owned()));
    member.family_name_kana = Some(Some("タナカ".to_owned()));
    member.given_name_kana = Some(Some("オサム".to_owned()));
    member.date_of_birth = Some(Some("1970-01-01".to_owned()));
    member.sex = Some(Some(models::new_member::Sex::Male));
    let mut applicant = NewApplicant::new();
    applicant.member = Some(Some("m1".to_owned()));
    let mut new = NewVisit::new(applicant, vec![event], vec![member]);
    new.answers = Some(vec![Answer::AnswerMemberHasMyNumberCard(Box::new(
        AnswerMemberHasMyNumberCard::new(
            models::answer_member_has_my_number_card::Fact::MemberHasMyNumberCard,
            "m1".to_owned(),
            true,
        ),
    ))]);
    let visit = visits_api::create_visit(config, LG_CODE, CLERK, new, None).await?;
    let id = visit.id.to_string();
    println!("visit {id}: {:?}", visit.status);

    let drafts = visits_api::get_drafts(config, LG_CODE, &id, CLERK).await?;
    let key = drafts
        .drafts
        .iter()
        .find_map(|d| match d {
            Draft::DraftCertificateIssuance10(d) => Some(d.key.clone()),
            _ => None,
        })
        .ok_or("no certificate draft")?;
    let mut edit = DraftEdit::new();
    edit.set = Some(serde_json::json!({
        "/purpose": "勤務先提出",
        "/identityDocument": "運転免許証",
        "/applicant/relation": "本人",
        "/applicant/contact/phone": "0157-23-7111",
    }));
    let edited = visits_api::patch_draft(config, LG_CODE, &id, &key, CLERK, edit, None).await?;
    let Draft::DraftCertificateIssuance10(edited) = edited else {
        return Err("the edited draft is not the certificate form".into());
    };
    println!(
        "{}: valid {}, purpose {:?}",
        edited.key, edited.valid, edited.document.purpose
    );
    if !edited.valid {
        return Err(format!("the completed draft should be valid: {:?}", edited.errors).into());
    }

    let confirm = Confirm::new(models::confirm::Method::Attestation);
    visits_api::confirm_visit(config, LG_CODE, &id, CLERK, confirm, None, None).await?;
    let submitted = visits_api::submit_visit(config, LG_CODE, &id, CLERK, None).await?;
    for a in &submitted.items {
        println!("application {}: {:?}", a.procedure_id, a.state);
    }
    if !submitted
        .items
        .iter()
        .any(|a| a.state == models::ApplicationState::Submitted)
    {
        return Err("no application submitted".into());
    }
    let receipt = visits_api::get_receipt(config, LG_CODE, &id, CLERK).await?;
    let pdf = receipt.bytes().await?;
    if !pdf.starts_with(b"%PDF-") {
        return Err("the receipt is not a PDF".into());
    }
    println!("receipt: {} bytes of PDF", pdf.len());
    Ok(())
}
