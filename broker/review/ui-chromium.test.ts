import { afterAll, beforeAll, expect, it } from "vitest";
import { scholarshipApplicant } from "../../adapters/examples/journeys/applicants.js";
import { scholarshipApplication } from "../../adapters/examples/journeys/scholarship.js";
import { launchChromium, pageCspViolations, type TestBrowser } from "../../test/helpers/chromium.js";
import { startTestStack, type TestStack } from "../../test/helpers/stack.js";

// The review UI in real Chromium against the real stack: its strict CSP, its module scripts and
// WebCrypto's Ed25519 as a browser runs them, which happy-dom (ui-browser.test.ts) only imitates.

let stack: TestStack;
let browser: TestBrowser;
beforeAll(async () => {
  browser = await launchChromium();
  stack = await startTestStack();
  await scholarshipApplication(stack.client(), scholarshipApplicant(stack.population) ?? "");
  // A browser and a whole stack on two shared cores: their start alone has taken over a minute under load.
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

it("loads under its CSP and verifies the signed tree head with WebCrypto", async () => {
  const review = stack.review;
  if (!review) throw new Error("the stack runs no review API");
  const { page, cspViolations, consoleErrors } = await browser.page();
  const started = performance.now();
  await page.goto(`${review.url}/ui#/head`);
  await page.locator("#token-input").fill(review.token);
  await page.locator("#token-form button[type=submit]").click();
  const verdict = page.locator("#signature-verdict");
  await verdict.waitFor();
  // Printed for the report: how long a reviewer waits for a checked head in a real browser.
  process.stdout.write(
    `review UI: signed head checked ${Math.round(performance.now() - started)} ms after load\n`,
  );
  expect(await verdict.textContent()).toContain("Tree head signed by the key this server serves");
  expect(await page.evaluate("typeof crypto.subtle.verify")).toBe("function");
  expect(cspViolations).toEqual([]);
  expect(await pageCspViolations(page)).toEqual([]);
  expect(consoleErrors).toEqual([]);
});

it("reports an inline script the CSP blocks, so a clean run above means something", async () => {
  const review = stack.review;
  if (!review) throw new Error("the stack runs no review API");
  const { page } = await browser.page();
  await page.goto(`${review.url}/ui`);
  await page.evaluate(
    "const s = document.createElement('script'); s.textContent = 'window.ran = true'; document.body.append(s)",
  );
  await expect.poll(() => pageCspViolations(page)).toEqual([expect.stringContaining("script-src")]);
  expect(await page.evaluate("window.ran")).toBeUndefined();
});
