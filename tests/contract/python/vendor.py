"""A vendor's counter app, written against the client generated from openapi/openapi.json
(openapi-python-client). CI checks it with mypy --strict and runs it against a live gateway:
VENDOR_GATEWAY_URL, VENDOR_CLIENT_ID, VENDOR_CLIENT_SECRET."""

import base64
import datetime
import os
import sys

from madoguchi_client import AuthenticatedClient
from madoguchi_client.api.forms import list_forms, validate_form, validate_resident_move_1_0
from madoguchi_client.api.oauth import token
from madoguchi_client.models import (
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
    answer = token.sync(client=basic, body=TokenForm(grant_type="client_credentials", scope="forms"))
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
            relation=CommonRelationshipApplicantRelation.本人,
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
                relationship=CommonRelationshipToHouseholder.世帯主,
            )
        ],
    )


def describe(result: ValidateResult) -> str:
    lines = [f"{e.pointer} {e.code}: {e.message}" for e in result.errors]
    return f"valid={result.valid} errors={len(result.errors)}" + "".join("\n" + l for l in lines)


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
