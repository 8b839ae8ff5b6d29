// ajv side of `cargo bench --bench forms`. Reads one JSON job from stdin:
//   { "schemas": [schema, …] (common first), "cases": [{ "id": formSchema$id, "document": … }],
//     "seconds": n, "rounds": r }
// and prints { "<$id>": validations per second, … } for single-threaded ajv (draft 2020-12,
// formats asserted, the gateway's two custom formats implemented the same way).
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const job = JSON.parse(readFileSync(0, "utf8"));
const ajv = new Ajv2020({ strict: false, validateFormats: true });
addFormats(ajv);
ajv.addVocabulary(["x-normalize", "x-messages"]);
ajv.addFormat("my-number", (s) => {
  if (!/^[0-9]{12}$/.test(s)) return false;
  let sum = 0;
  for (let n = 1; n <= 11; n++) {
    const p = Number(s[11 - n]);
    sum += p * (n <= 6 ? n + 1 : n - 5);
  }
  const r = sum % 11;
  return Number(s[11]) === (r <= 1 ? 0 : 11 - r);
});
ajv.addFormat("lg-code", (s) => {
  if (!/^[0-9]{6}$/.test(s)) return false;
  const pref = Number(s.slice(0, 2));
  if (pref < 1 || pref > 47) return false;
  const sum = [6, 5, 4, 3, 2].reduce((a, w, i) => a + w * Number(s[i]), 0);
  return Number(s[5]) === (11 - (sum % 11)) % 10;
});
for (const schema of job.schemas) ajv.addSchema(schema);

// Each round measures every form for `seconds`; a form's figure is its best round, as on
// the Rust side, so that a pause of the machine in one round does not decide the ratio.
const validators = job.cases.map((c) => {
  const validate = ajv.getSchema(c.id);
  if (!validate(c.document)) throw new Error(`${c.id}: ${JSON.stringify(validate.errors)}`);
  // Warm up before the first round.
  for (let i = 0; i < 2000; i++) validate(c.document);
  return { id: c.id, validate, document: c.document };
});
const out = {};
for (let round = 0; round < job.rounds; round++) {
  for (const { id, validate, document } of validators) {
    const budget = BigInt(Math.round(job.seconds * 1e9));
    let n = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0n;
    while (elapsed < budget) {
      for (let i = 0; i < 1000; i++) validate(document);
      n += 1000;
      elapsed = process.hrtime.bigint() - start;
    }
    out[id] = Math.max(out[id] ?? 0, n / (Number(elapsed) / 1e9));
  }
}
process.stdout.write(JSON.stringify(out));
