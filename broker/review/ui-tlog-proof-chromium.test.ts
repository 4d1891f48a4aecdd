import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, pageCspViolations, type TestBrowser } from "../../test/helpers/chromium.js";
import { eventually } from "../../test/helpers/cluster.js";
import { fetchSample, startTestStack, type TestStack } from "../../test/helpers/stack.js";

// The review UI checks an exchange's C2SP tlog-proof in real Chromium (WebCrypto Ed25519) against the log's
// key and the witness policy the server serves, on a stack with two witnesses: a proof as served shows both
// witnesses with their times; one with a byte changed, or with a cosignature taken out, shows the failure.

let stack: TestStack;
let browser: TestBrowser;
let exchangeId = "";
beforeAll(async () => {
  browser = await launchChromium();
  stack = await startTestStack({ witnesses: 2 });
  const res = await fetchSample(stack);
  const leaf = Number(res.receipt?.leafIndex);
  exchangeId = res.receipt?.exchangeId ?? "";
  if (!exchangeId) throw new Error("the receipt names no exchange");
  // The witnesses cosign a checkpoint covering the leaf within a second or so.
  await eventually(async () => {
    const r = await fetch(`${stack.review?.url}/checkpoint`);
    const text = await r.text();
    if (r.status !== 200 || !(Number(text.split("\n")[1]) > leaf)) throw new Error("not witnessed yet");
  }, 30_000);
  // A browser and a whole stack on two shared cores: their start alone has taken over a minute under load.
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** The exchange's view with the reviewer token; `alter` rewrites the tlog-proof on its way to the page. */
async function verdictOf(alter?: (proof: string) => string): Promise<{ text: string; page: Page }> {
  const review = stack.review;
  if (!review) throw new Error("the stack runs no review API");
  const { page, cspViolations, consoleErrors } = await browser.page();
  if (alter)
    await page.route(
      (url) => url.pathname === "/v1/log/tlog-proof",
      async (route) => {
        const response = await route.fetch();
        await route.fulfill({ response, body: alter(await response.text()) });
      },
    );
  await page.goto(`${review.url}/ui#/exchange/${exchangeId}`);
  await page.locator("#token-input").fill(review.token);
  await page.locator("#token-form button[type=submit]").click();
  const verdict = page.locator("#tlog-proof-verdict");
  await expect.poll(() => verdict.textContent(), { timeout: 30_000 }).not.toMatch(/^Checking/);
  expect(cspViolations).toEqual([]);
  expect(await pageCspViolations(page)).toEqual([]);
  expect(consoleErrors).toEqual([]);
  return { text: (await verdict.textContent()) ?? "", page };
}

const ISO = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z";

// A page load, its checks and the wait for the verdict (up to 30 s) under load: more than the default 30 s.
describe("the review UI checks the exchange's tlog-proof", { timeout: 90_000 }, () => {
  it("shows the witnesses and their times for a tlog-proof that verifies", async () => {
    const { text, page } = await verdictOf();
    expect(text).toMatch(
      new RegExp(
        `^Witnessed by W1 at ${ISO}, W2 at ${ISO}: the checkpoint of size \\d+ is signed by the key this server serves and the inclusion path leads from this leaf to its root, and the cosignatures meet the witness policy's quorum\\.$`,
      ),
    );
    expect(await page.locator("#tlog-proof-verdict strong.verified").count()).toBe(1);
  });

  it("shows the failure for a tlog-proof with one byte of the checkpoint's root changed", async () => {
    const { text, page } = await verdictOf((proof) => {
      const lines = proof.split("\n");
      const at = lines.indexOf("") + 3; // the blank line, origin, size, then the root
      const line = lines[at] ?? "";
      lines[at] = (line[0] === "A" ? "B" : "A") + line.slice(1);
      return lines.join("\n");
    });
    expect(text).toMatch(
      /^tlog-proof does NOT verify: the log's signature on the checkpoint \(size \d+\) does not verify\.$/,
    );
    expect(await page.locator("#tlog-proof-verdict strong.not-verified").count()).toBe(1);
  });

  it("shows the failure for a tlog-proof whose checkpoint lacks W2's cosignature, naming W2 and the quorum", async () => {
    const { text } = await verdictOf((proof) =>
      proof
        .split("\n")
        .filter((l) => !l.startsWith("— witness-2.dev.xbus "))
        .join("\n"),
    );
    expect(text).toMatch(
      /^tlog-proof does NOT verify: the checkpoint \(size \d+\) is cosigned by W1: not enough for the policy's quorum dev-witnesses \(no cosignature of W2\)\.$/,
    );
  });
});
