//! A vendor's counter app, written against the Rust client openapi-generator makes of
//! openapi/openapi.json: a 住民票の写し from the new visit to the receipt, every value typed (an
//! answer by its fact, the draft by its form, the codes as enums). Reads VENDOR_GATEWAY_URL,
//! VENDOR_CLIENT_ID and VENDOR_CLIENT_SECRET; exits non-zero on the first surprise.

use madoguchi_client::apis::configuration::Configuration;
use madoguchi_client::apis::{oauth_api, visits_api};
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
    let visit = visits_api::create_visit(&config, LG_CODE, CLERK, new, None).await?;
    let id = visit.id.to_string();
    println!("visit {id}: {:?}", visit.status);

    let drafts = visits_api::get_drafts(&config, LG_CODE, &id, CLERK).await?;
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
    let edited = visits_api::patch_draft(&config, LG_CODE, &id, &key, CLERK, edit, None).await?;
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
    visits_api::confirm_visit(&config, LG_CODE, &id, CLERK, confirm, None, None).await?;
    let submitted = visits_api::submit_visit(&config, LG_CODE, &id, CLERK, None).await?;
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
    let receipt = visits_api::get_receipt(&config, LG_CODE, &id, CLERK).await?;
    let pdf = receipt.bytes().await?;
    if !pdf.starts_with(b"%PDF-") {
        return Err("the receipt is not a PDF".into());
    }
    println!("receipt: {} bytes of PDF", pdf.len());
    Ok(())
}
