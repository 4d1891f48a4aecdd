import { randomBytes, randomUUID } from "node:crypto";
import {
  Browser,
  type BrowserPage,
  type Document,
  type HTMLButtonElement,
  type HTMLFormElement,
  type HTMLInputElement,
  type HTMLSelectElement,
} from "happy-dom";
import { Hono } from "hono";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { writeTestLogIndex } from "../../test/helpers/log-index.js";
import { subjectRef } from "../log/subject-ref.js";
import { type ReviewServer, serveReview } from "./serve.js";

// The page and its own script, loaded by happy-dom from the served review API over a real index, as a
// browser would: the script's fetch, WebCrypto hashing and DOM are what is under test.

const TOKEN = "ui-browser-test-token-0123456789";
const SECRET = randomBytes(32);
const MIN = 60_000;
/** Wednesday 9 July 2025, 00:00 UTC. */
const WED = Date.UTC(2025, 6, 9);
/** Three pages of the default 50. */
const COUNT = 120;
const CITIZEN = "10000000001";
const EVIL_CONSUMER = "<script>window.pwned = 1</script>";
const EVIL_REASON = '<img src="x" onerror="window.pwned = 2">';
/** On the first page (newest first). */
const EVIL_AT = COUNT - 3;

const exchanges = Array.from({ length: COUNT }, (_, i) => ({
  index: i,
  id: randomUUID(),
  time: WED + i * MIN,
  consumer: i === EVIL_AT ? EVIL_CONSUMER : "spiffe://gov.bt/agency/moh/system/ehr",
  decision: i % 5 === 0 ? "deny" : "allow",
  subject: i % 4 === 0 ? CITIZEN : String(20000000000 + i),
}));
const evil = exchanges[EVIL_AT] as (typeof exchanges)[number];
const log = writeTestLogIndex(
  exchanges.map((e) => ({
    exchangeId: e.id,
    time: BigInt(e.time),
    consumer: e.consumer,
    service: "dcrc.citizen-record",
    subjectRef: subjectRef(SECRET, e.subject),
    purpose: "treatment",
    decision: e.decision === "deny" ? Decision.DENY : Decision.ALLOW,
    status: e.decision === "deny" ? "POLICY_DENIED" : "OK",
    reason: e.index === EVIL_AT ? EVIL_REASON : "",
    fieldsReleased: ["name"],
  })),
);
const app = log.reviewApp({ token: TOKEN, logSecret: SECRET });

/**
 * The same API, except that an exchange's answer names a root one bit off: what a server hiding an
 * altered log could send. Everything else, the page and its script included, is passed through.
 */
const tampering = new Hono();
tampering.get("/v1/exchanges/:id", async (c) => {
  const res = await app.fetch(c.req.raw);
  if (res.status !== 200) return res;
  const body = (await res.json()) as { inclusion: { root_hash: string } };
  const h = body.inclusion.root_hash;
  body.inclusion.root_hash = h.slice(0, -1) + (h.endsWith("0") ? "1" : "0");
  return c.json(body);
});
tampering.all("*", (c) => app.fetch(c.req.raw));

let server: ReviewServer;
let tamperingServer: ReviewServer;
beforeAll(async () => {
  server = await serveReview(app);
  tamperingServer = await serveReview(tampering);
});
afterAll(async () => {
  await server?.close();
  await tamperingServer?.close();
  log.close();
});

const browsers: Browser[] = [];
afterEach(async () => {
  for (const b of browsers.splice(0)) await b.close();
});

/** Opens `/ui` + `hash` on `base` in a fresh browser (own session storage) and waits for its script. */
async function open(hash: string, base = server.url): Promise<{ page: BrowserPage; doc: Document }> {
  const browser = new Browser({
    settings: { enableJavaScriptEvaluation: true, suppressInsecureJavaScriptEnvironmentWarning: true },
  });
  browsers.push(browser);
  const page = browser.newPage();
  await page.goto(`${base}/ui${hash}`);
  await page.waitUntilComplete();
  const doc = page.mainFrame.document;
  await until(doc, () => !tokenView(doc).hidden, "the token form");
  return { page, doc };
}

function tokenView(doc: Document) {
  return doc.getElementById("token-view") as unknown as { hidden: boolean };
}

/** Polls the DOM every 20 ms, for at most 10 s: no timing is asserted, only that the condition comes. */
async function until<T>(doc: Document, check: () => T | undefined | null | false, what: string): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const v = check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(
    `waited 10 s for ${what}; the page says: ${doc.body?.textContent?.replace(/\s+/g, " ").slice(0, 400)}`,
  );
}

function typeToken(doc: Document, token: string): void {
  (doc.getElementById("token-input") as unknown as HTMLInputElement).value = token;
  (doc.getElementById("token-form") as unknown as HTMLFormElement).requestSubmit();
}

/** Rows of the table under `#<id>` as cell texts, once its caption names `page`. */
async function tableRows(doc: Document, id: string, page: number): Promise<string[][]> {
  await until(
    doc,
    () => doc.querySelector(`#${id} caption`)?.textContent?.includes(`(page ${page},`),
    `page ${page} in #${id}`,
  );
  return [...doc.querySelectorAll(`#${id} tbody tr`)].map((tr) =>
    [...tr.querySelectorAll("td")].map((td) => td.textContent ?? ""),
  );
}

function button(doc: Document, text: string): HTMLButtonElement {
  const b = [...doc.querySelectorAll("button")].find((x) => x.textContent === text);
  if (!b) throw new Error(`no button "${text}"`);
  return b as unknown as HTMLButtonElement;
}

async function verdict(doc: Document): Promise<string> {
  return until(
    doc,
    () => {
      const t = doc.getElementById("inclusion-verdict")?.textContent ?? "";
      return t.startsWith("Inclusion proof") ? t : undefined;
    },
    "the inclusion verdict",
  );
}

/** What a datetime-local input holds for `ms`, in the local zone of the browser (this process). */
function localInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

const newestFirst = (keep: (e: (typeof exchanges)[number]) => boolean) =>
  exchanges
    .filter(keep)
    .map((e) => e.id)
    .reverse();

describe("the review UI in a browser, over a real index", () => {
  it("lists the exchanges of the index newest first and pages with next_cursor, both ways", async () => {
    const { doc } = await open("#/exchanges");
    typeToken(doc, TOKEN);
    const ids: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const rows = await tableRows(doc, "exchanges-results", page);
      expect(rows).toHaveLength(page < 3 ? 50 : 20);
      ids.push(...rows.map((r) => r[2] ?? ""));
      expect(button(doc, "Older page").disabled).toBe(page === 3);
      if (page < 3) button(doc, "Older page").click();
    }
    expect(ids).toEqual(newestFirst(() => true));
    button(doc, "Newer page").click();
    expect((await tableRows(doc, "exchanges-results", 2))[0]?.[0]).toBe(String(COUNT - 51));
  });

  it("sends the filters, and turns datetime-local into a time with the browser's offset", async () => {
    const { doc } = await open("#/exchanges");
    typeToken(doc, TOKEN);
    await tableRows(doc, "exchanges-results", 1);
    const form = doc.querySelector("form.filters") as unknown as HTMLFormElement;
    (doc.getElementById("f-decision") as unknown as HTMLSelectElement).value = "deny";
    (doc.getElementById("f-subject") as unknown as HTMLInputElement).value = CITIZEN;
    (doc.getElementById("f-from") as unknown as HTMLInputElement).value = localInput(WED + 20 * MIN);
    (doc.getElementById("f-to") as unknown as HTMLInputElement).value = localInput(WED + 100 * MIN);
    form.requestSubmit();
    await until(
      doc,
      () =>
        doc.querySelector("#exchanges-results caption")?.textContent?.includes("rows)") &&
        doc.querySelectorAll("#exchanges-results tbody tr").length < 50,
      "the filtered page",
    );
    const rows = await tableRows(doc, "exchanges-results", 1);
    expect(rows.map((r) => r[2])).toEqual(
      newestFirst((e) => e.decision === "deny" && e.subject === CITIZEN && e.index >= 20 && e.index < 100),
    );
    expect(rows.every((r) => r[6] === "deny")).toBe(true);
  });

  it("verifies an exchange's inclusion proof in the browser against the root the answer gives", async () => {
    const e = exchanges[42] as (typeof exchanges)[number];
    const { doc } = await open(`#/exchange/${e.id}`);
    typeToken(doc, TOKEN);
    const v = await verdict(doc);
    expect(v).toMatch(/^Inclusion proof verified: leaf 42 is in the tree of 120 leaves/);
    const dts = [...doc.querySelectorAll("#view dl dt")].map((dt) => dt.textContent);
    expect(dts).toEqual(expect.arrayContaining(["exchange_id", "consumer", "decision", "fields_released"]));
  });

  it("says the proof does NOT verify when the server's answer names another root", async () => {
    const e = exchanges[42] as (typeof exchanges)[number];
    const { doc } = await open(`#/exchange/${e.id}`, tamperingServer.url);
    typeToken(doc, TOKEN);
    const v = await verdict(doc);
    expect(v).toMatch(
      /^Inclusion proof does NOT verify: the audit path leads to [0-9a-f]{64}, not to the root given/,
    );
    expect(doc.querySelector("#inclusion-verdict .not-verified")).not.toBeNull();
  });

  it("shows a citizen's accesses by citizen ID, with paging", async () => {
    const { doc } = await open("#/accesses");
    typeToken(doc, TOKEN);
    await until(doc, () => doc.getElementById("f-subject"), "the citizen form");
    (doc.getElementById("f-subject") as unknown as HTMLInputElement).value = CITIZEN;
    (doc.querySelector("form.filters") as unknown as HTMLFormElement).requestSubmit();
    const rows = await tableRows(doc, "accesses-results", 1);
    expect(rows.map((r) => r[7])).toEqual(newestFirst((e) => e.subject === CITIZEN));
    expect(button(doc, "Older page").disabled).toBe(true);
  });

  it("shows the latest signed tree head and the alerts view", async () => {
    const { doc } = await open("#/head");
    typeToken(doc, TOKEN);
    const text = await until(doc, () => doc.querySelector("#view dl")?.textContent, "the tree head");
    expect(text).toContain(`Tree size${COUNT}`);
    expect(text).toContain(log.reader.latestTreeHead()?.rootHash);
    (doc.querySelector('a[href="#/alerts"]') as unknown as HTMLButtonElement).click();
    await until(doc, () => doc.querySelector("#alerts-results table caption"), "the alerts table");
  });

  it("brings the token form back with a message when the token is refused, and keeps no token", async () => {
    const { page, doc } = await open("#/exchanges");
    typeToken(doc, "not-the-right-token-0123456789");
    await until(
      doc,
      () => doc.getElementById("token-message")?.textContent?.includes("401"),
      "the 401 message",
    );
    expect(tokenView(doc).hidden).toBe(false);
    expect(doc.getElementById("exchanges-results")).toBeNull();
    expect(page.mainFrame.window.sessionStorage.length).toBe(0);
    typeToken(doc, TOKEN);
    await tableRows(doc, "exchanges-results", 1);
    expect(page.mainFrame.window.sessionStorage.getItem("xbus-review-token")).toBe(TOKEN);
    expect(page.mainFrame.window.localStorage.length).toBe(0);
    expect(page.mainFrame.window.location.href).not.toContain(TOKEN);
  });

  it("shows data holding <script> or <img onerror> as text, creating no element", async () => {
    const { page, doc } = await open(`#/exchange/${evil.id}`);
    typeToken(doc, TOKEN);
    await verdict(doc);
    const dds = [...doc.querySelectorAll("#view dd")].map((dd) => dd.textContent);
    expect(dds).toContain(EVIL_CONSUMER);
    expect(dds).toContain(EVIL_REASON);
    expect(doc.querySelectorAll("#view script, #view img")).toHaveLength(0);
    (doc.querySelector('a[href="#/exchanges"]') as unknown as HTMLButtonElement).click();
    const rows = await tableRows(doc, "exchanges-results", 1);
    expect(rows.map((r) => r[3])).toContain(EVIL_CONSUMER);
    expect(doc.querySelectorAll("script")).toHaveLength(1);
    expect(doc.querySelectorAll("img")).toHaveLength(0);
    expect((page.mainFrame.window as unknown as { pwned?: number }).pwned).toBeUndefined();
  });
});
