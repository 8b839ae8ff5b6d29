// What a vendor's ajv makes of the gateway's schemas, offline: each form's `/schema` (fetched
// from a live gateway) must compile on its own — nothing else added, nothing fetched — and
// accept the form's own examples; so must every form and common component of the OpenAPI
// document, read from the document alone.
// Usage: node ajv-offline.mjs OPENAPI_JSON   (VENDOR_GATEWAY_URL, VENDOR_CLIENT_ID/SECRET)
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

// 個人番号: 12 digits, the last a check digit (総務省令 第5条).
const isMyNumber = (value) => {
  if (!/^[0-9]{12}$/.test(value)) return false;
  const digits = [...value].map(Number);
  let sum = 0;
  for (let n = 1; n <= 11; n += 1) {
    const p = digits[11 - n];
    sum += p * (n <= 6 ? n + 1 : n - 5);
  }
  const remainder = sum % 11;
  return digits[11] === (remainder <= 1 ? 0 : 11 - remainder);
};

const fresh = () => {
  // strict: false lets the `x-` annotations of the schemas and OpenAPI's `example` pass.
  const ajv = new Ajv2020({ strict: false, allErrors: true, loadSchema: undefined });
  addFormats(ajv);
  ajv.addFormat("lg-code", /^[0-9]{6}$/);
  ajv.addFormat("my-number", { type: "string", validate: isMyNumber });
  return ajv;
};

let failures = 0;
const check = (label, validate, examples) => {
  for (const [i, example] of (examples ?? []).entries()) {
    if (!validate(example)) {
      failures += 1;
      console.error(`${label}: example ${i} rejected: ${JSON.stringify(validate.errors)}`);
    }
  }
};

const base = process.env.VENDOR_GATEWAY_URL;
const basic = Buffer.from(`${process.env.VENDOR_CLIENT_ID}:${process.env.VENDOR_CLIENT_SECRET}`).toString("base64");
const tokenResponse = await fetch(`${base}/oauth/token`, {
  method: "POST",
  headers: { Authorization: `Basic ${basic}`, "Content-Type": "application/x-www-form-urlencoded" },
  body: "grant_type=client_credentials&scope=forms",
});
const { access_token: token } = await tokenResponse.json();
const auth = { headers: { Authorization: `Bearer ${token}` } };
const forms = await (await fetch(`${base}/v1/forms`, auth)).json();
for (const form of forms.items) {
  const url = `${base}/v1/forms/${form.id}/${form.latestVersion}/schema`;
  const schema = await (await fetch(url, auth)).json();
  let validate;
  try {
    validate = fresh().compile(schema);
  } catch (e) {
    failures += 1;
    console.error(`${url}: does not compile offline: ${e.message}`);
    continue;
  }
  check(url, validate, schema.examples);
}
console.log(`${forms.items.length} form schemas compiled offline`);

const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
const ajv = fresh();
ajv.addSchema(doc, "openapi.json");
let components = 0;
for (const [name, schema] of Object.entries(doc.components.schemas)) {
  if (!name.startsWith("form.") && !name.startsWith("common.")) continue;
  try {
    const validate = ajv.compile({ $ref: `openapi.json#/components/schemas/${name}` });
    check(name, validate, schema.examples);
    components += 1;
  } catch (e) {
    failures += 1;
    console.error(`component ${name}: does not compile: ${e.message}`);
  }
}
console.log(`${components} form and common components compiled from the document alone`);
process.exit(failures === 0 ? 0 : 1);
