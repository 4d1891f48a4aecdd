import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { DevCitizenUser } from "../../stack/index.js";
import { launchChromium, pageCspViolations, type TestBrowser } from "../../test/helpers/chromium.js";
import { headCovering, signIn } from "../../test/helpers/citizen-page.js";
import { deadline, startTestStack, type TestStack } from "../../test/helpers/stack.js";

// Delayed disclosure in real Chromium: a covert read by police investigators is on no citizen page until
// the stack's injected clock passes its embargo; then its citizen sees it at its original index, marked
// as shown late, and verifies its proof in the browser; another citizen never sees it.

const DAY = 86_400_000;
let stack: TestStack;
let browser: TestBrowser;
let first: DevCitizenUser;
let second: DevCitizenUser;
let now = Date.now();
let covertId: string;
let covertIndex: number;

beforeAll(async () => {
  browser = await launchChromium();
  stack = await startTestStack({ citizenPage: true, clock: () => now });
  [first, second] = (stack.citizen?.users ?? []) as [DevCitizenUser, DevCitizenUser];
  const police = stack.issueIdentity("rbp-investigations", {
    role: "system",
    spiffeId: "spiffe://gov.bt/agency/rbp/system/investigations",
    commonName: "rbp investigations (test)",
  });
  const res = await stack.client(police).fetch(
    {
      service: "dcrc.citizen-record",
      subjectId: first.subject_id,
      purpose: "criminal-investigation",
      fields: ["name"],
      legalOrderRef: "CR/2026/77",
    },
    deadline(),
  );
  covertId = res.exchangeId;
  covertIndex = Number(res.receipt?.leafIndex);
  await headCovering(stack, covertIndex + 1);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** The session cookie is the browser's: sign out so the next page signs in as someone else. */
async function signOut(page: Page) {
  await page.locator("#sign-out-button").click();
  await page.locator("#sign-in").waitFor();
  await page.close();
}

async function rowsOf(page: Page, user: DevCitizenUser) {
  await signIn(page, stack, user);
  return page
    .locator("#accesses tbody tr")
    .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-exchange-id")));
}

it("hides the covert read until its date, then shows it at its index, verified, to its citizen only", async () => {
  const before = await browser.page();
  expect(await rowsOf(before.page, first)).not.toContain(covertId);
  await signOut(before.page);

  now = Date.now() + 181 * DAY;
  const { page, cspViolations, consoleErrors } = await browser.page();
  expect(await rowsOf(page, first)).toContain(covertId);
  const row = page.locator(`#accesses tr[data-exchange-id="${covertId}"]`);
  expect(await row.locator(".disclosed-later").textContent()).toContain("CR/2026/77");
  const proof = (await (
    await page.request.get(
      `${new URL(stack.citizen?.url ?? "").origin}/citizen/api/accesses/${covertId}/proof`,
    )
  ).json()) as { index: number };
  expect(proof.index).toBe(covertIndex);
  await row.locator("button.verify").click();
  await row.locator(".verdict[data-ms]").waitFor();
  expect(await row.locator(".verdict").textContent()).toBe("Verified: this record is in the signed log.");
  expect(cspViolations).toEqual([]);
  expect(await pageCspViolations(page)).toEqual([]);
  expect(consoleErrors).toEqual([]);
  await signOut(page);

  const other = await browser.page();
  expect(await rowsOf(other.page, second)).not.toContain(covertId);
  const refused = await other.page.request.get(
    `${new URL(stack.citizen?.url ?? "").origin}/citizen/api/accesses/${covertId}/proof`,
  );
  expect(refused.status()).toBe(404);
  await signOut(other.page);
});
