import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scholarshipApplication } from "../../adapters/examples/journeys/scholarship.js";
import type { DevCitizenUser } from "../../stack/index.js";
import { launchChromium, pageCspViolations, type TestBrowser } from "../../test/helpers/chromium.js";
import { headCovering, signIn as signInAs } from "../../test/helpers/citizen-page.js";
import { deadline, failure, startTestStack, type TestStack } from "../../test/helpers/stack.js";

// "Who read my data" in real Chromium: sign-in through the dev OpenID provider's own login form, the
// citizen's rows, a proof checked with the browser's WebCrypto, the JSON download, and a second citizen
// who sees none of the first one's rows however the URL is changed.

let stack: TestStack;
let browser: TestBrowser;
let first: DevCitizenUser;
let second: DevCitizenUser;
/** Exchange ids about each citizen, from what the broker decided. */
const about = (u: DevCitizenUser) =>
  new Set(stack.outcomes.filter((o) => o.subjectId === u.subject_id).map((o) => o.exchangeId));

/** A request the policy refuses: a scholarship office may not read medical fitness. */
async function deniedAttempt(subjectId: string) {
  const err = await failure(
    stack
      .client()
      .fetch(
        { service: "moh.medical-fitness", subjectId, purpose: "scholarship-eligibility", fields: [] },
        deadline(),
      ),
  );
  expect(err.reason).toBeDefined();
}

beforeAll(async () => {
  browser = await launchChromium();
  stack = await startTestStack({ citizenPage: true });
  const users = stack.citizen?.users ?? [];
  [first, second] = users as [DevCitizenUser, DevCitizenUser];
  expect(first.subject_id).not.toBe(second.subject_id);
  await scholarshipApplication(stack.client(), first.subject_id);
  await deniedAttempt(first.subject_id);
  await deniedAttempt(second.subject_id);
  // Every exchange in a signed head, so each row has a proof.
  await headCovering(stack, stack.outcomes.length);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

const signIn = (page: Page, user: DevCitizenUser) => signInAs(page, stack, user);

const rowIds = (page: Page) =>
  page
    .locator("#accesses tbody tr")
    .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-exchange-id")));

it("refuses a wrong password at the identity provider", async () => {
  const { page } = await browser.page();
  await page.goto(stack.citizen?.url ?? "");
  await page.locator("#sign-in").click();
  await page.locator("#username").fill(first.username);
  await page.locator("#password").fill(`${first.password}x`);
  await page.locator("button[type=submit]").click();
  expect(await page.locator("#login-error").textContent()).toContain("wrong password");
  await page.close();
});

it("shows the first citizen every exchange about them, verifies one, and downloads them", async () => {
  const { page, cspViolations, consoleErrors } = await browser.page();
  const started = performance.now();
  await signIn(page, first);
  const signedIn = performance.now() - started;
  const expected = about(first);
  expect(expected.size).toBe(3);
  expect(new Set(await rowIds(page))).toEqual(expected);
  expect(await page.locator("#accesses tr.denied").count()).toBe(1);
  expect(await page.locator("#accesses").textContent()).toContain("Tertiary Education Policy 2010");

  const verdict = page.locator("#accesses tbody tr").first().locator(".verdict");
  await page.locator("#accesses tbody tr").first().locator("button.verify").click();
  await page.locator("#accesses .verdict[data-ms]").waitFor();
  expect(await verdict.textContent()).toBe("Verified: this record is in the signed log.");
  expect(await verdict.getAttribute("class")).toBe("verdict verdict-ok");
  const verifyMs = Number(await verdict.getAttribute("data-ms"));

  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#download").click()]);
  const json = JSON.parse(readFileSync(await download.path(), "utf8")) as {
    subject_id: string;
    accesses: { exchange_id: string; inclusion: { audit_path: string[] } | null }[];
  };
  expect(json.subject_id).toBe(first.subject_id);
  expect(new Set(json.accesses.map((a) => a.exchange_id))).toEqual(expected);
  expect(json.accesses.every((a) => a.inclusion !== null)).toBe(true);

  expect(cspViolations).toEqual([]);
  expect(await pageCspViolations(page)).toEqual([]);
  expect(consoleErrors).toEqual([]);
  process.stdout.write(
    `citizen page: signed in and listed in ${Math.round(signedIn)} ms; one proof verified in the browser in ${verifyMs.toFixed(1)} ms\n`,
  );
  await page.locator("#sign-out-button").click();
  await page.locator("#sign-in").waitFor();
  await page.close();
});

it("shows the second citizen none of the first one's rows, whatever the URL says", async () => {
  const { page } = await browser.page();
  await signIn(page, second);
  const theirs = new Set(await rowIds(page));
  expect(theirs).toEqual(about(second));
  const firsts = [...about(first)];
  for (const id of firsts) expect(theirs.has(id)).toBe(false);

  const origin = new URL(stack.citizen?.url ?? "").origin;
  const get = (path: string) => page.request.get(`${origin}${path}`);
  for (const id of firsts) expect((await get(`/citizen/api/accesses/${id}/proof`)).status()).toBe(404);
  expect((await get(`/citizen/api/accesses?subject_id=${first.subject_id}`)).status()).toBe(400);
  expect((await get(`/citizen/api/subjects/${first.subject_id}/accesses`)).status()).toBe(404);
  // The reviewers' API wants its bearer token; a citizen's cookie is not one.
  expect((await get(`/v1/subjects/${first.subject_id}/accesses`)).status()).toBe(404);
  expect(
    (await page.request.get(`${stack.review?.url}/v1/subjects/${first.subject_id}/accesses`)).status(),
  ).toBe(401);
  const exported = (await (await get("/citizen/api/export")).json()) as {
    accesses: { exchange_id: string }[];
  };
  expect(new Set(exported.accesses.map((a) => a.exchange_id))).toEqual(theirs);

  // Sign-out from another origin is refused (CSRF); the session stays.
  const forged = await page.request.post(`${origin}/citizen/logout`, {
    headers: { origin: "http://evil.example", "content-type": "application/x-www-form-urlencoded" },
    data: "",
  });
  expect(forged.status()).toBe(403);
  expect((await get("/citizen/api/accesses")).status()).toBe(200);
  await page.close();
});

it("answers 401 without a session", async () => {
  const res = await fetch(`${new URL(stack.citizen?.url ?? "").origin}/citizen/api/accesses`);
  expect(res.status).toBe(401);
});
