import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scholarshipApplicant } from "../../adapters/examples/journeys/applicants.js";
import { scholarshipApplication } from "../../adapters/examples/journeys/scholarship.js";
import {
  launchChromium,
  pageCspViolations,
  type TestBrowser,
  type TestPage,
} from "../../test/helpers/chromium.js";
import { headCovering } from "../../test/helpers/citizen-page.js";
import { deadline, failure, startTestStack, type TestStack } from "../../test/helpers/stack.js";

// The review UI in real Chromium against the real stack: its strict CSP, its module scripts and
// WebCrypto's Ed25519 as a browser runs them, which happy-dom (ui-browser.test.ts) only imitates.

let stack: TestStack;
let browser: TestBrowser;
beforeAll(async () => {
  browser = await launchChromium();
  stack = await startTestStack();
  const applicant = scholarshipApplicant(stack.population) ?? "";
  await scholarshipApplication(stack.client(), applicant);
  // Two requests the policy refuses (a scholarship office may not read medical fitness), for the charts.
  for (let i = 0; i < 2; i++) {
    const err = await failure(
      stack.client().fetch(
        {
          service: "moh.medical-fitness",
          subjectId: applicant,
          purpose: "scholarship-eligibility",
          fields: [],
        },
        deadline(),
      ),
    );
    expect(err.reason).toBeDefined();
  }
  await headCovering(stack, stack.outcomes.length);
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

/** Opens the review UI at `hash` with the stack's reviewer token. */
async function openReview(page: Page, hash: string) {
  const review = stack.review;
  if (!review) throw new Error("the stack runs no review API");
  await page.goto(`${review.url}/ui${hash}`);
  await page.locator("#token-input").fill(review.token);
  await page.locator("#token-form button[type=submit]").click();
}

/** The query of each call the page makes to `path`, in order. */
function callsTo(page: Page, path: string): URLSearchParams[] {
  const calls: URLSearchParams[] = [];
  page.on("request", (r) => {
    const url = new URL(r.url());
    if (url.pathname === path) calls.push(url.searchParams);
  });
  return calls;
}

/** A new tab on the charts view, wide enough for every bucket of an hour to be clicked apart, and one chart in it. */
async function chartsPage(id: string) {
  const tab = await browser.page();
  await tab.page.setViewportSize({ width: 1280, height: 900 });
  await openReview(tab.page, "#/charts");
  const chart = tab.page.locator(`figure.chart[data-chart="${id}"]`);
  await chart.locator("canvas").waitFor();
  return { ...tab, chart };
}

/** Clicks `chart` at the time `bucket` starts, `y` pixels from the top of its plot (given its height). */
async function clickBucket(chart: Locator, bucket: number, y: (height: number) => number) {
  const from = Number(await chart.getAttribute("data-from"));
  const to = Number(await chart.getAttribute("data-to"));
  const box = await chart.locator(".u-over").boundingBox();
  if (!box) throw new Error("the chart has no plotting area");
  await chart.locator(".u-over").click({
    position: { x: (box.width * (bucket - from)) / (to - from), y: y(box.height) },
  });
}

/** No CSP violation, seen by the console or the page's own listener, and no error in the console. */
async function expectClean({ page, cspViolations, consoleErrors }: TestPage) {
  expect(cspViolations).toEqual([]);
  expect(await pageCspViolations(page)).toEqual([]);
  expect(consoleErrors).toEqual([]);
}

const agencyOf = (consumer: string | undefined) => /\/agency\/([^/]+)\//.exec(consumer ?? "")?.[1] ?? "";

it("charts the stack's exchanges by agency, by decision, and denials and alerts, under its CSP", async () => {
  const tab = await chartsPage("agencies");
  const { page } = tab;
  const agencies = [...new Set(stack.outcomes.map((o) => agencyOf(o.consumer)))].sort();
  const count = (f: (o: (typeof stack.outcomes)[number]) => boolean) => stack.outcomes.filter(f).length;
  expect(agencies.length).toBeGreaterThan(0);
  expect(count((o) => o.decision === "deny")).toBe(2);

  const figure = (id: string) => page.locator(`figure.chart[data-chart="${id}"]`);
  // One canvas chart each, with one line per agency, per decision, and denied + alerts; uPlot's legend
  // has a row per line after the time's.
  for (const [id, lines] of [
    ["agencies", agencies.length],
    ["decisions", 4],
    ["denials", 2],
  ] as const) {
    expect(await figure(id).locator("canvas").count(), id).toBe(1);
    expect(await figure(id).getAttribute("data-series"), id).toBe(String(lines));
    expect(await figure(id).locator(".u-legend .u-series").count(), id).toBe(lines + 1);
  }
  // The text beside each chart: the totals of what the stack did.
  expect(await figure("agencies").locator(".summary").textContent()).toBe(
    `Totals: ${agencies.map((a) => `${a} ${count((o) => agencyOf(o.consumer) === a)}`).join(", ")}.`,
  );
  expect(await figure("decisions").locator(".summary").textContent()).toBe(
    `Totals: allow ${count((o) => o.decision === "allow")}, deny 2, invalid 0, error 0.`,
  );
  expect(await figure("denials").locator(".summary").textContent()).toMatch(
    /^Totals: denied 2, alerts \d+\.$/,
  );
  await expectClean(tab);
});

it("drills down from a point on a chart to that bucket's exchanges of that agency", async () => {
  const tab = await chartsPage("agencies");
  const { page, chart } = tab;
  // The first bucket with exchanges, from the chart's own table, and where it is on the time axis.
  const firstRow = chart.locator("details tbody tr").first();
  const bucket = Date.parse((await firstRow.locator("td").first().textContent()) ?? "");
  const inBucket = Number(await firstRow.locator("td").nth(1).textContent());
  const calls = callsTo(page, "/v1/exchanges");
  await clickBucket(chart, bucket, (h) => h / 2);
  await page.locator("#exchanges-results tbody tr").first().waitFor();
  expect(page.url()).toContain("#/exchanges/");
  // The page asked for the bucket, 1 minute from its start, and the one agency on the chart.
  const q = calls[0];
  expect(q?.get("agency")).toBe(agencyOf(stack.outcomes[0]?.consumer));
  expect(Date.parse(q?.get("from") ?? "")).toBe(bucket);
  expect(Date.parse(q?.get("to") ?? "")).toBe(bucket + 60_000);
  const consumers = await page.locator("#exchanges-results tbody tr td:nth-child(4)").allTextContents();
  expect(consumers).toHaveLength(inBucket);
  expect(consumers.every((c) => agencyOf(c) === q?.get("agency"))).toBe(true);
  // The form shows the filters it searched with.
  expect(await page.locator("#f-agency").inputValue()).toBe(q?.get("agency"));
  await expectClean(tab);
});

it("drills down from the numbers under a chart, by keyboard, to the denied exchanges of a bucket", async () => {
  const tab = await chartsPage("decisions");
  const { page, chart } = tab;
  await chart.locator("summary").click();
  // Column 3 is "deny" (Bucket, allow, deny, invalid, error): the links of the buckets with denials.
  const links = chart.locator("details tbody td:nth-child(3) a");
  const denied = (await links.allTextContents()).map(Number);
  expect(denied.reduce((a, b) => a + b, 0)).toBe(2);
  const calls = callsTo(page, "/v1/exchanges");
  await links.first().focus();
  await page.keyboard.press("Enter");
  await page.locator("#exchanges-results tbody tr").first().waitFor();
  expect(calls[0]?.get("decision")).toBe("deny");
  expect(calls[0]?.has("agency")).toBe(false);
  const decisions = await page.locator("#exchanges-results tbody tr td:nth-child(7)").allTextContents();
  expect(decisions).toEqual(new Array(denied[0]).fill("deny"));
  await expectClean(tab);
});

it("drills down to the one line left shown after the others are hidden from the legend", async () => {
  const tab = await chartsPage("decisions");
  const { page, chart } = tab;
  for (const d of ["allow", "invalid", "error"])
    await chart.locator(".u-legend .u-series th").filter({ hasText: d }).click();
  expect(await chart.locator(".u-legend .u-series.u-off").count()).toBe(3);
  // The first bucket with denials, and a click on it far from its point (the bottom of the plot).
  const cells = chart
    .locator("details tbody tr")
    .filter({ has: page.locator("td:nth-child(3) a") })
    .first();
  const bucket = Date.parse((await cells.locator("td").first().textContent()) ?? "");
  const calls = callsTo(page, "/v1/exchanges");
  await clickBucket(chart, bucket, (h) => h - 2);
  await page.locator("#exchanges-results tbody tr").first().waitFor();
  expect(calls[0]?.get("decision")).toBe("deny");
  expect(Date.parse(calls[0]?.get("from") ?? "")).toBe(bucket);
  await expectClean(tab);
});
