// A vendor's counter app, written against the client generated from openapi/openapi.json
// (openapi-typescript + openapi-fetch). CI type-checks it with `tsc --strict` and runs it
// against a live gateway: VENDOR_GATEWAY_URL, VENDOR_CLIENT_ID, VENDOR_CLIENT_SECRET.
import createClient from "openapi-fetch";
import type { components, paths } from "../generated/api.js";

type ResidentMove = components["schemas"]["form.residentMove.1.0"];
type ValidateResult = components["schemas"]["ValidateResult"];
type Problem = components["schemas"]["Problem"];
type NewVisit = components["schemas"]["NewVisit"];
type Answer = components["schemas"]["Answer"];
type Draft = components["schemas"]["Draft"];
type Client = ReturnType<typeof createClient<paths>>;

const base = process.env.VENDOR_GATEWAY_URL ?? "http://127.0.0.1:8080";

async function token(): Promise<string> {
  const client = createClient<paths>({ baseUrl: base });
  const { data, error } = await client.POST("/oauth/token", {
    body: {
      grant_type: "client_credentials",
      client_id: process.env.VENDOR_CLIENT_ID ?? "",
      client_secret: process.env.VENDOR_CLIENT_SECRET ?? "",
      scope: "forms visits",
    },
    // Form-encoded: the fields that are set, each a string (a type guard, not a cast).
    bodySerializer: (body) =>
      new URLSearchParams(
        Object.entries(body).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
      ).toString(),
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  if (error !== undefined) {
    throw new Error(`no token: ${error.code}: ${error.detail}`);
  }
  return data.access_token;
}

// A 住民異動届 built as a typed value: a misspelt field or a wrong code does not compile.
const move: ResidentMove = {
  notificationType: "moveIn",
  notificationDate: "2026-04-03",
  moveDate: "2026-03-28",
  applicant: {
    familyName: "山田",
    givenName: "太郎",
    familyNameKana: "ヤマダ",
    givenNameKana: "タロウ",
    relation: "本人",
    contact: { phone: "090-1234-5678" },
  },
  fromAddress: {
    lgCode: "011002",
    postalCode: "060-0001",
    prefecture: "北海道",
    city: "札幌市中央区",
    streetAddress: "北一条西",
    cityBlock: "2-1",
  },
  toAddress: {
    lgCode: "012084",
    postalCode: "090-0024",
    prefecture: "北海道",
    city: "北見市",
    streetAddress: "北四条東",
    cityBlock: "3-2-1",
  },
  members: [
    {
      familyName: "山田",
      givenName: "太郎",
      familyNameKana: "ヤマダ",
      givenNameKana: "タロウ",
      dateOfBirth: "1988-07-14",
      sex: "1",
      relationship: "世帯主",
    },
  ],
};

function describe(result: ValidateResult): string {
  const lines = result.errors.map((e) => `${e.pointer} ${e.code}: ${e.message}`);
  return `valid=${result.valid} errors=${result.errors.length}${lines.length ? "\n" + lines.join("\n") : ""}`;
}

const lgCode = "012084";
const clerk = { "Madoguchi-Actor": "clerk-0042" };

function etagOf(response: Response): string {
  const etag = response.headers.get("etag");
  if (etag === null) {
    throw new Error("no ETag");
  }
  return etag;
}

// A household moves in: the visit typed from the new visit to the drafts, each draft read as
// its own form (narrowed by `form`, no cast), an answer typed by its fact, an edit with If-Match.
async function moveInVisit(client: Client): Promise<void> {
  const body: NewVisit = {
    events: [{ kind: "moveIn", date: "2026-12-01", facts: { from: "otherMunicipality", cardSpecialMoveIn: false } }],
    members: [
      { id: "m1", familyName: "山田", givenName: "太郎", relationship: "世帯主", dateOfBirth: "1988-04-10", sex: "1", insurance: "nationalHealth" },
      { id: "m2", familyName: "山田", givenName: "一郎", relationship: "子", dateOfBirth: "2018-09-01", insurance: "nationalHealth" },
    ],
    applicant: { member: "m1" },
  };
  const created = await client.POST("/v1/municipalities/{lgCode}/visits", {
    params: { path: { lgCode }, header: clerk },
    body,
  });
  if (created.error !== undefined) {
    throw new Error(`create visit: ${created.error.code}`);
  }
  const visitId = created.data.id;
  const visit = { path: { lgCode, visitId }, header: clerk };
  const determination = await client.GET("/v1/municipalities/{lgCode}/visits/{visitId}/determination", { params: visit });
  if (determination.error !== undefined) {
    throw new Error(`determination: ${determination.error.code}`);
  }
  console.log(`needed: ${determination.data.needed.map((n) => n.procedureId).join(", ")}`);
  const answer: Answer = { fact: "member.hasMyNumberCard", member: "m1", value: true };
  const answered = await client.POST("/v1/municipalities/{lgCode}/visits/{visitId}/answers", {
    params: visit,
    body: { answers: [answer] },
  });
  if (answered.error !== undefined) {
    throw new Error(`answers: ${answered.error.code}`);
  }

  const listed = await client.GET("/v1/municipalities/{lgCode}/visits/{visitId}/drafts", { params: visit });
  if (listed.error !== undefined) {
    throw new Error(`drafts: ${listed.error.code}`);
  }
  const revision = etagOf(listed.response);
  let nhiKey: string | undefined;
  for (const draft of listed.data.drafts) {
    // Each draft is its form's type once `form` is checked.
    if (draft.form === "residentMove@1.0") {
      const names = (draft.document.members ?? []).map((m) => `${m.familyName ?? ""} ${m.givenName ?? ""}`);
      console.log(`${draft.key}: ${draft.formTitle} (${draft.document.notificationType ?? "?"}) for ${names.join(", ")}`);
    } else if (draft.form === "nationalHealthInsurance@1.0") {
      nhiKey = draft.key;
    }
  }
  if (nhiKey === undefined) {
    throw new Error("no national health insurance draft for a household moving in on it");
  }
  const edit = { set: { "/qualificationConfirmationDelivery": "窓口" } };
  const path = { lgCode, visitId, draftKey: nhiKey };
  const edited = await client.PATCH("/v1/municipalities/{lgCode}/visits/{visitId}/drafts/{draftKey}", {
    params: { path, header: { ...clerk, "If-Match": revision } },
    body: edit,
  });
  if (edited.error !== undefined) {
    throw new Error(`edit: ${edited.error.code}`);
  }
  const draft: Draft = edited.data;
  if (draft.form !== "nationalHealthInsurance@1.0" || draft.document.qualificationConfirmationDelivery !== "窓口") {
    throw new Error("the edit should show in the insurance draft");
  }
  // The same revision again: the visit changed since, so the write is refused.
  const stale = await client.PATCH("/v1/municipalities/{lgCode}/visits/{visitId}/drafts/{draftKey}", {
    params: { path, header: { ...clerk, "If-Match": revision } },
    body: edit,
  });
  if (stale.error?.code !== "precondition_failed") {
    throw new Error("a stale edit should be refused with precondition_failed");
  }
  const closed = await client.POST("/v1/municipalities/{lgCode}/visits/{visitId}/close", { params: visit });
  if (closed.data?.status !== "closed") {
    throw new Error("the visit should be closed");
  }
}

// A 住民票の写し to the end: the draft completed, confirmed, submitted, the receipt printed.
async function certificateVisit(client: Client): Promise<void> {
  const created = await client.POST("/v1/municipalities/{lgCode}/visits", {
    params: { path: { lgCode }, header: clerk },
    body: {
      events: [{ kind: "certificateRequest", date: "2026-12-03", facts: { certificates: ["residentRecordCopy"] } }],
      members: [{ id: "m1", familyName: "田中", givenName: "修", familyNameKana: "タナカ", givenNameKana: "オサム", dateOfBirth: "1970-01-01", sex: "1" }],
      applicant: { member: "m1" },
    },
  });
  if (created.error !== undefined) {
    throw new Error(`create visit: ${created.error.code}`);
  }
  const visit = { path: { lgCode, visitId: created.data.id }, header: clerk };
  const edited = await client.PATCH("/v1/municipalities/{lgCode}/visits/{visitId}/drafts/{draftKey}", {
    params: { path: { ...visit.path, draftKey: "residentRecordCopy@0" }, header: clerk },
    body: {
      set: {
        "/purpose": "勤務先提出",
        "/identityDocument": "運転免許証",
        "/applicant/relation": "本人",
        "/applicant/contact/phone": "0157-23-7111",
      },
    },
  });
  if (edited.error !== undefined || !edited.data.valid || edited.data.form !== "certificateIssuance@1.0") {
    throw new Error("the completed certificate draft should be valid");
  }
  console.log(`${edited.data.key}: purpose ${edited.data.document.purpose ?? "?"}`);
  const confirmed = await client.POST("/v1/municipalities/{lgCode}/visits/{visitId}/confirm", {
    params: visit,
    body: { method: "attestation" },
  });
  if (confirmed.error !== undefined) {
    throw new Error(`confirm: ${confirmed.error.code}`);
  }
  const submitted = await client.POST("/v1/municipalities/{lgCode}/visits/{visitId}/submit", { params: visit });
  if (submitted.error !== undefined) {
    throw new Error(`submit: ${submitted.error.code}`);
  }
  console.log(`applications: ${submitted.data.items.map((a) => `${a.procedureId} ${a.state}`).join(", ")}`);
  if (!submitted.data.items.some((a) => a.state === "submitted")) {
    throw new Error("an application should be submitted");
  }
  const receipt = await client.GET("/v1/municipalities/{lgCode}/visits/{visitId}/receipt", {
    params: visit,
    parseAs: "arrayBuffer",
  });
  if (receipt.error !== undefined) {
    throw new Error(`receipt: ${receipt.error.code}`);
  }
  const pdf = new Uint8Array(receipt.data);
  if (new TextDecoder().decode(pdf.slice(0, 5)) !== "%PDF-") {
    throw new Error("the receipt is not a PDF");
  }
  console.log(`receipt: ${pdf.length} bytes of PDF`);
}

async function main(): Promise<void> {
  const client = createClient<paths>({
    baseUrl: base,
    headers: { Authorization: `Bearer ${await token()}` },
  });

  const forms = await client.GET("/v1/forms");
  if (forms.error !== undefined) {
    throw new Error(`list forms: ${forms.error.code}`);
  }
  const ids = forms.data.items.map((f) => `${f.id}@${f.latestVersion}`);
  console.log(`forms: ${ids.join(", ")}`);

  // The typed operation of the form.
  const valid = await client.POST("/v1/forms/residentMove/1.0/validate", { body: move });
  if (valid.error !== undefined) {
    throw new Error(`validate: ${valid.error.code}`);
  }
  console.log(`as built: ${describe(valid.data)}`);
  if (!valid.data.valid) {
    throw new Error("the typed document should be valid");
  }

  // A document with mistakes: every error comes back at once, typed.
  const wrong: ResidentMove = { ...move, members: [{ ...move.members[0]!, givenNameKana: "たろう", dateOfBirth: "2026-02-30" }] };
  const invalid = await client.POST("/v1/forms/residentMove/1.0/validate", { body: wrong });
  if (invalid.error !== undefined) {
    throw new Error(`validate: ${invalid.error.code}`);
  }
  console.log(`with mistakes: ${describe(invalid.data)}`);
  if (invalid.data.valid || invalid.data.errors.length === 0) {
    throw new Error("the mistakes should be found");
  }

  // A problem is typed too: the dialect legacy-counter-v2 maps residentMove only.
  const refused = await client.POST("/v1/forms/{formId}/{version}/validate", {
    params: { path: { formId: "sealRegistration", version: "1.0" }, query: { dialect: "legacy-counter-v2" } },
    body: {},
  });
  const problem: Problem | undefined = refused.error;
  console.log(`dialect for another form: ${problem?.status} ${problem?.code}`);
  if (problem?.code !== "unknown_dialect") {
    throw new Error("expected unknown_dialect");
  }

  await moveInVisit(client);
  await certificateVisit(client);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
