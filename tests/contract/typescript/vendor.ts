// A vendor's counter app, written against the client generated from openapi/openapi.json
// (openapi-typescript + openapi-fetch). CI type-checks it with `tsc --strict` and runs it
// against a live gateway: VENDOR_GATEWAY_URL, VENDOR_CLIENT_ID, VENDOR_CLIENT_SECRET.
import createClient from "openapi-fetch";
import type { components, paths } from "../generated/api.js";

type ResidentMove = components["schemas"]["form.residentMove.1.0"];
type ValidateResult = components["schemas"]["ValidateResult"];
type Problem = components["schemas"]["Problem"];

const base = process.env.VENDOR_GATEWAY_URL ?? "http://127.0.0.1:8080";

async function token(): Promise<string> {
  const client = createClient<paths>({ baseUrl: base });
  const { data, error } = await client.POST("/oauth/token", {
    body: {
      grant_type: "client_credentials",
      client_id: process.env.VENDOR_CLIENT_ID ?? "",
      client_secret: process.env.VENDOR_CLIENT_SECRET ?? "",
      scope: "forms",
    },
    bodySerializer: (body) => new URLSearchParams(body as Record<string, string>).toString(),
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
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
