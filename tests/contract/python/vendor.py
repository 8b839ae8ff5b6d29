"""A vendor's counter app, written against the client generated from openapi/openapi.json
(openapi-python-client). CI checks it with mypy --strict and runs it against a live gateway:
VENDOR_GATEWAY_URL, VENDOR_CLIENT_ID, VENDOR_CLIENT_SECRET."""

import base64
import datetime
import os
import sys
from collections.abc import Mapping

from madoguchi_client import AuthenticatedClient
from madoguchi_client.api.forms import list_forms, validate_form, validate_resident_move_1_0
from madoguchi_client.api.oauth import token
from madoguchi_client.api.visits import (
    close_visit,
    confirm_visit,
    create_visit,
    get_determination,
    get_drafts,
    get_receipt,
    patch_draft,
    post_answers,
    submit_visit,
)
from madoguchi_client.models import (
    AnswerBatch,
    AnswerMemberHasMyNumberCard,
    ApplicationState,
    Applications,
    Confirm,
    ConfirmMethod,
    Confirmation,
    Determination,
    DraftCertificateIssuance10,
    DraftEdit,
    DraftEditSet,
    DraftList,
    DraftNationalHealthInsurance10,
    DraftResidentMove10,
    FormDraftCertificateIssuance10Purpose,
    FormDraftResidentMove10NotificationType,
    NewApplicant,
    NewLifeEvent,
    NewLifeEventFacts,
    NewLifeEventFactsCertificatesItem,
    NewLifeEventFactsFrom,
    NewLifeEventKind,
    NewMember,
    NewMemberInsuranceType0,
    NewMemberRelationshipType0,
    NewMemberSexType0,
    NewVisit,
    Visit,
    VisitStatus,
    Problem,
    TokenForm,
    TokenResponse,
    ValidateFormBody,
    ValidateFormDialect,
    ValidateFormFormId,
    ValidateFormVersion,
    ValidateResult,
    CommonAddress,
    CommonContact,
    CommonPersonSex,
    CommonRelationshipApplicantRelation,
    CommonRelationshipToHouseholder,
    FormResidentMove10,
    FormResidentMove10Applicant,
    FormResidentMove10MembersItem,
    FormResidentMove10NotificationType,
)

BASE = os.environ.get("VENDOR_GATEWAY_URL", "http://127.0.0.1:8080")


def access_token() -> str:
    credentials = f"{os.environ['VENDOR_CLIENT_ID']}:{os.environ['VENDOR_CLIENT_SECRET']}"
    basic = AuthenticatedClient(
        base_url=BASE, token=base64.b64encode(credentials.encode()).decode(), prefix="Basic"
    )
    answer = token.sync(client=basic, body=TokenForm(grant_type="client_credentials", scope="forms visits"))
    if not isinstance(answer, TokenResponse):
        raise SystemExit(f"no token: {answer}")
    return answer.access_token


def resident_move() -> FormResidentMove10:
    """A 住民異動届 built as a typed value: a misspelt field or a wrong code fails mypy."""
    return FormResidentMove10(
        notification_type=FormResidentMove10NotificationType.MOVEIN,
        notification_date=datetime.date(2026, 4, 3),
        move_date=datetime.date(2026, 3, 28),
        applicant=FormResidentMove10Applicant(
            family_name="山田",
            given_name="太郎",
            family_name_kana="ヤマダ",
            given_name_kana="タロウ",
            relation=CommonRelationshipApplicantRelation.PERSON_CONCERNED,
            contact=CommonContact(phone="090-1234-5678"),
        ),
        from_address=CommonAddress(
            lg_code="011002",
            postal_code="060-0001",
            prefecture="北海道",
            city="札幌市中央区",
            street_address="北一条西",
            city_block="2-1",
        ),
        to_address=CommonAddress(
            lg_code="012084",
            postal_code="090-0024",
            prefecture="北海道",
            city="北見市",
            street_address="北四条東",
            city_block="3-2-1",
        ),
        members=[
            FormResidentMove10MembersItem(
                family_name="山田",
                given_name="太郎",
                family_name_kana="ヤマダ",
                given_name_kana="タロウ",
                date_of_birth=datetime.date(1988, 7, 14),
                sex=CommonPersonSex.MALE,
                relationship=CommonRelationshipToHouseholder.HOUSEHOLDER,
            )
        ],
    )


def describe(result: ValidateResult) -> str:
    lines = [f"{e.pointer} {e.code}: {e.message}" for e in result.errors]
    return f"valid={result.valid} errors={len(result.errors)}" + "".join("\n" + l for l in lines)


LG_CODE = "012084"
CLERK = "clerk-0042"


def etag_of(headers: Mapping[str, str]) -> str:
    """The visit's revision from a response's ETag header, for If-Match on the next change."""
    value = headers.get("etag")
    if value is None:
        raise SystemExit("no ETag")
    return value


def move_in_visit(client: AuthenticatedClient) -> None:
    """A household moves in: the visit typed from the new visit to the drafts, each draft read
    as its own form (no cast), an answer typed by its fact, an edit sent with If-Match."""
    new = NewVisit(
        events=[
            NewLifeEvent(
                kind=NewLifeEventKind.MOVEIN,
                date="2026-12-01",
                facts=NewLifeEventFacts(from_=NewLifeEventFactsFrom.OTHERMUNICIPALITY, card_special_move_in=False),
            )
        ],
        members=[
            NewMember(
                id="m1",
                family_name="山田",
                given_name="太郎",
                relationship=NewMemberRelationshipType0.HOUSEHOLDER,
                date_of_birth="1988-04-10",
                sex=NewMemberSexType0.MALE,
                insurance=NewMemberInsuranceType0.NATIONALHEALTH,
            ),
            NewMember(
                id="m2",
                family_name="山田",
                given_name="一郎",
                relationship=NewMemberRelationshipType0.CHILD,
                date_of_birth="2018-09-01",
                insurance=NewMemberInsuranceType0.NATIONALHEALTH,
            ),
        ],
        applicant=NewApplicant(member="m1"),
    )
    visit = create_visit.sync(LG_CODE, client=client, body=new, madoguchi_actor=CLERK)
    if not isinstance(visit, Visit):
        raise SystemExit(f"create visit: {visit}")
    assert visit.status == VisitStatus.OPEN
    determination = get_determination.sync(LG_CODE, visit.id, client=client, madoguchi_actor=CLERK)
    if not isinstance(determination, Determination):
        raise SystemExit(f"determination: {determination}")
    print("needed:", ", ".join(sorted({n.procedure_id for n in determination.needed})))
    print("asked:", ", ".join(q.id for q in determination.questions))
    answers = AnswerBatch(answers=[AnswerMemberHasMyNumberCard(fact="member.hasMyNumberCard", member="m1", value=True)])
    answered = post_answers.sync(LG_CODE, visit.id, client=client, body=answers, madoguchi_actor=CLERK)
    if not isinstance(answered, Determination):
        raise SystemExit(f"answers: {answered}")

    listed = get_drafts.sync_detailed(LG_CODE, visit.id, client=client, madoguchi_actor=CLERK)
    drafts = listed.parsed
    if not isinstance(drafts, DraftList):
        raise SystemExit(f"drafts: {drafts}")
    revision = etag_of(listed.headers)
    nhi: DraftNationalHealthInsurance10 | None = None
    for draft in drafts.drafts:
        # Each draft is its form's type: the move-in notification's document has a
        # notification type and members, the insurance's its own fields.
        if isinstance(draft, DraftResidentMove10):
            assert draft.document.notification_type == FormDraftResidentMove10NotificationType.MOVEIN
            members = draft.document.members if isinstance(draft.document.members, list) else []
            names = ", ".join(f"{m.family_name} {m.given_name}" for m in members)
            print(f"{draft.key}: {draft.form_title} for {names}; {len(draft.errors)} to complete")
        elif isinstance(draft, DraftNationalHealthInsurance10):
            nhi = draft
    if nhi is None:
        raise SystemExit("no national health insurance draft for a household moving in on it")
    edit = DraftEdit(set_=DraftEditSet.from_dict({"/qualificationConfirmationDelivery": "窓口"}))
    edited = patch_draft.sync(
        LG_CODE, visit.id, nhi.key, client=client, body=edit, madoguchi_actor=CLERK, if_match=revision
    )
    if not isinstance(edited, DraftNationalHealthInsurance10):
        raise SystemExit(f"edit: {edited}")
    print(f"{edited.key}: delivery {edited.document.qualification_confirmation_delivery}")
    # The same edit again with the revision read before the first: someone changed the visit.
    stale = patch_draft.sync(
        LG_CODE, visit.id, nhi.key, client=client, body=edit, madoguchi_actor=CLERK, if_match=revision
    )
    if not isinstance(stale, Problem) or stale.status != 412:
        raise SystemExit(f"a stale edit should be refused with 412, got {stale}")
    closed = close_visit.sync(LG_CODE, visit.id, client=client, madoguchi_actor=CLERK)
    if not isinstance(closed, Visit) or closed.status != VisitStatus.CLOSED:
        raise SystemExit(f"close: {closed}")


def certificate_visit(client: AuthenticatedClient) -> None:
    """A 住民票の写し to the end: the draft completed, confirmed, submitted, the receipt printed."""
    new = NewVisit(
        events=[
            NewLifeEvent(
                kind=NewLifeEventKind.CERTIFICATEREQUEST,
                date="2026-12-03",
                facts=NewLifeEventFacts(certificates=[NewLifeEventFactsCertificatesItem.RESIDENTRECORDCOPY]),
            )
        ],
        members=[
            NewMember(
                id="m1",
                family_name="田中",
                given_name="修",
                family_name_kana="タナカ",
                given_name_kana="オサム",
                date_of_birth="1970-01-01",
                sex=NewMemberSexType0.MALE,
            )
        ],
        applicant=NewApplicant(member="m1"),
    )
    visit = create_visit.sync(LG_CODE, client=client, body=new, madoguchi_actor=CLERK)
    if not isinstance(visit, Visit):
        raise SystemExit(f"create visit: {visit}")
    drafts = get_drafts.sync(LG_CODE, visit.id, client=client, madoguchi_actor=CLERK)
    if not isinstance(drafts, DraftList):
        raise SystemExit(f"drafts: {drafts}")
    copy = next(d for d in drafts.drafts if isinstance(d, DraftCertificateIssuance10))
    edit = DraftEdit(
        set_=DraftEditSet.from_dict(
            {
                "/purpose": FormDraftCertificateIssuance10Purpose.FOR_EMPLOYER.value,
                "/identityDocument": "運転免許証",
                "/applicant/relation": "本人",
                "/applicant/contact/phone": "0157-23-7111",
            }
        )
    )
    edited = patch_draft.sync(LG_CODE, visit.id, copy.key, client=client, body=edit, madoguchi_actor=CLERK)
    if not isinstance(edited, DraftCertificateIssuance10) or not edited.valid:
        raise SystemExit(f"the completed draft should be valid: {edited}")
    assert edited.document.purpose == FormDraftCertificateIssuance10Purpose.FOR_EMPLOYER
    confirmed = confirm_visit.sync(
        LG_CODE, visit.id, client=client, body=Confirm(method=ConfirmMethod.ATTESTATION), madoguchi_actor=CLERK
    )
    if not isinstance(confirmed, Confirmation):
        raise SystemExit(f"confirm: {confirmed}")
    submitted = submit_visit.sync(LG_CODE, visit.id, client=client, madoguchi_actor=CLERK)
    if not isinstance(submitted, Applications):
        raise SystemExit(f"submit: {submitted}")
    states = [a.state for a in submitted.items]
    print("applications:", ", ".join(f"{a.procedure_id} {a.state}" for a in submitted.items))
    assert ApplicationState.SUBMITTED in states
    receipt = get_receipt.sync(LG_CODE, visit.id, client=client, madoguchi_actor=CLERK)
    if isinstance(receipt, Problem) or receipt is None:
        raise SystemExit(f"receipt: {receipt}")
    pdf = receipt.payload.read()
    if not pdf.startswith(b"%PDF-"):
        raise SystemExit("the receipt is not a PDF")
    print(f"receipt: {len(pdf)} bytes of PDF")


def main() -> int:
    client = AuthenticatedClient(base_url=BASE, token=access_token())
    forms = list_forms.sync(client=client)
    if isinstance(forms, Problem) or forms is None:
        raise SystemExit(f"list forms: {forms}")
    print("forms:", ", ".join(f"{f.id}@{f.latest_version}" for f in forms.items))

    result = validate_resident_move_1_0.sync(client=client, body=resident_move())
    if not isinstance(result, ValidateResult):
        raise SystemExit(f"validate: {result}")
    print("as built:", describe(result))
    if not result.valid:
        return 1

    # A problem is typed too: the dialect legacy-counter-v2 maps residentMove only.
    refused = validate_form.sync(
        client=client,
        form_id=ValidateFormFormId.SEALREGISTRATION,
        version=ValidateFormVersion.VALUE_0,
        dialect=ValidateFormDialect.LEGACY_COUNTER_V2,
        body=ValidateFormBody(),
    )
    if not isinstance(refused, Problem) or refused.code != "unknown_dialect":
        raise SystemExit(f"expected unknown_dialect, got {refused}")
    print("dialect for another form:", refused.status, refused.code, refused.detail)

    move_in_visit(client)
    certificate_visit(client)
    return 0


if __name__ == "__main__":
    sys.exit(main())
