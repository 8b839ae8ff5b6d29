// Swagger UI at /docs as a vendor's developer uses it, in headless Chromium: Authorize with
// client credentials (the oauth2 scheme), then "Try it out" on GET /v1/forms and on the typed
// validate of 住民異動届 with its prefilled example — each must answer 200 — and not one
// request may leave the gateway's host (municipal networks are closed).
// Env: VENDOR_GATEWAY_URL, VENDOR_CLIENT_ID, VENDOR_CLIENT_SECRET; CHROMIUM (/usr/bin/chromium).
import { chromium } from "playwright-core";

// Served under a real host name, as in a municipality (Swagger UI treats localhost apart: it
// would call its public validator only for other hosts).
const local = new URL(process.env.VENDOR_GATEWAY_URL);
const hostName = "madoguchi.city.example.lg.jp";
const base = `${local.protocol}//${hostName}:${local.port}`;
const gateway = new URL(base).host;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  // As the machine's notes say: no background networking, or Chromium itself calls out.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    `--host-resolver-rules=MAP ${hostName} ${local.hostname}`],
});
const outside = [];
const fail = async (message) => {
  console.error(`swagger-ui: ${message}`);
  await browser.close();
  process.exit(1);
};
try {
  const page = await browser.newPage();
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.protocol.startsWith("http") && url.host !== gateway) {
      outside.push(url.href);
      return route.abort();
    }
    return route.continue();
  });

  await page.goto(`${base}/docs/`);
  await page.click("button.authorize");
  await page.fill("#client_id_clientCredentials", process.env.VENDOR_CLIENT_ID);
  await page.fill("#client_secret_clientCredentials", process.env.VENDOR_CLIENT_SECRET);
  // The checkbox itself is hidden behind its label, as a person clicks it.
  await page.click("label[for='forms-clientCredentials-checkbox-oauth2']");
  const token = page.waitForResponse((r) => r.url().endsWith("/oauth/token"));
  // The oauth2 section's own Authorize button (the basic scheme's form comes first).
  await page.locator(".auth-container", { hasText: "clientCredentials" })
    .locator("button.authorize").click();
  const tokenAnswer = await token;
  if (tokenAnswer.status() !== 200) {
    await fail(`the token request answered ${tokenAnswer.status()}: ${await tokenAnswer.text()}`);
  }
  await page.locator(".auth-container", { hasText: "clientCredentials" })
    .getByText("Authorized").first().waitFor();
  await page.click(".modal-ux .close-modal");

  const tryOperation = async (operationId, expected) => {
    const block = page.locator(`[id^='operations-'][id$='-${operationId}']`);
    await block.locator(".opblock-summary").click();
    const answer = page.waitForResponse((r) => r.request().method() !== "OPTIONS" &&
      !r.url().endsWith("/openapi.json") && !r.url().includes("/docs/"));
    await block.locator("button.execute").click();
    const response = await answer;
    if (response.status() !== expected) {
      await fail(`${operationId} answered ${response.status()}: ${await response.text()}`);
    }
    const authorization = await response.request().headerValue("authorization");
    if (!authorization?.startsWith("Bearer ")) {
      await fail(`${operationId} was sent without the token`);
    }
    console.log(`swagger-ui: ${operationId} → ${response.status()} with the token`);
  };
  await tryOperation("list_forms", 200);
  await tryOperation("validateResidentMove_1_0", 200);
} catch (e) {
  await fail(e.stack ?? String(e));
}
await browser.close();
if (outside.length > 0) {
  console.error(`swagger-ui: requests to other hosts: ${outside.join(", ")}`);
  process.exit(1);
}
console.log("swagger-ui: no request left the gateway's host");
