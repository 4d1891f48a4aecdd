import { createHash, type KeyObject, randomBytes, randomUUID } from "node:crypto";
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
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { rogueSigner, writeTestLogIndex } from "../../test/helpers/log-index.js";
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
/** `hex` with its last bit flipped. */
const flip = (hex: string) => hex.slice(0, -1) + (hex.endsWith("0") ? "1" : "0");
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
  body.inclusion.root_hash = flip(body.inclusion.root_hash);
  return c.json(body);
});
/** …and a tree head whose root is one bit off, under the log's own signature and key. */
tampering.get("/v1/log/tree-head", async (c) => {
  const body = (await (await app.fetch(c.req.raw)).json()) as { root_hash: string };
  body.root_hash = flip(body.root_hash);
  return c.json(body);
});
tampering.all("*", (c) => app.fetch(c.req.raw));

/** The log's public key as the API serves it and `xbus log verify --public-key` takes it. */
const LOG_KEY = log.keyBase64;
/** Another Ed25519 key: what a server that rewrote the log would sign its tree heads with. */
const rogue = rogueSigner();
const ROGUE_KEY = rogue.keyBase64;
const fingerprintOf = (b64: string) => createHash("sha256").update(Buffer.from(b64, "base64")).digest("hex");

/** A tree head as the API answers it: `head` of log xbus-test-log, signed with `key`, naming `publicKey`. */
function signedHeadJson(
  head: { treeSize: number; rootHash: string; timestamp?: number },
  key: KeyObject,
  publicKey: string,
) {
  return log.signedHead({ timestamp: WED + COUNT * MIN, ...head, signer: key, publicKey });
}

/**
 * The same API, except that its tree head is `head`, validly signed by the rogue key, which it serves
 * as the log's key: a server that rewrote the log and signs with a key of its own.
 */
function servingRogueHead(head: { treeSize: number; rootHash: string }): Hono {
  const rogueApp = new Hono();
  rogueApp.get("/v1/log/tree-head", async (c) => {
    const res = await app.fetch(c.req.raw);
    if (res.status !== 200) return res;
    return c.json(signedHeadJson(head, rogue.privateKey, ROGUE_KEY));
  });
  rogueApp.all("*", (c) => app.fetch(c.req.raw));
  return rogueApp;
}
/** A head of the real size over another root. */
const rewritten = servingRogueHead({ treeSize: COUNT, rootHash: "ab".repeat(32) });
/** A head of one leaf less, with the real root of that size: the exchange's own proof is of size COUNT. */
const smaller = servingRogueHead({
  treeSize: COUNT - 1,
  rootHash: log.reader.tree.root(COUNT - 1).toString("hex"),
});

/**
 * The same API behind a proxy each test steers: the tree head it serves (`head`: any size of the real tree
 * or any root, signed with the log's own key unless `rogue`, so an insider holding the key is covered),
 * a consistency or inclusion proof with one hash altered, and a record of the proofs the page asks for.
 */
const staged = {
  head: undefined as { treeSize: number; rootHash?: string; rogue?: boolean } | undefined,
  tamperConsistency: false,
  tamperInclusion: false,
  asked: [] as string[],
};
/** The real tree's root at `size`, as the log's tree holds it. */
const rootAt = (size: number) => log.reader.tree.root(size).toString("hex");
const stagedApp = new Hono();
stagedApp.get("/v1/log/tree-head", async (c) => {
  const h = staged.head;
  if (!h) return app.fetch(c.req.raw);
  const head = { treeSize: h.treeSize, rootHash: h.rootHash ?? rootAt(h.treeSize) };
  return c.json(
    h.rogue
      ? signedHeadJson(head, rogue.privateKey, ROGUE_KEY)
      : signedHeadJson(head, log.privateKey, LOG_KEY),
  );
});
stagedApp.get("/v1/log/proof/:kind", async (c) => {
  const url = new URL(c.req.url);
  staged.asked.push(url.pathname + url.search);
  const res = await app.fetch(c.req.raw);
  const kind = c.req.param("kind");
  const list = kind === "consistency" ? "proof" : "audit_path";
  const tamper = kind === "consistency" ? staged.tamperConsistency : staged.tamperInclusion;
  if (res.status !== 200 || !tamper) return res;
  const body = (await res.json()) as Record<string, string[]>;
  const hashes = body[list] ?? [];
  body[list] = hashes.map((h, i) => (i === hashes.length - 1 ? flip(h) : h));
  return c.json(body);
});
stagedApp.all("*", (c) => app.fetch(c.req.raw));

let server: ReviewServer;
let stagedServer: ReviewServer;
let tamperingServer: ReviewServer;
let rewrittenServer: ReviewServer;
let smallerServer: ReviewServer;
beforeAll(async () => {
  server = await serveReview(app);
  stagedServer = await serveReview(stagedApp);
  tamperingServer = await serveReview(tampering);
  rewrittenServer = await serveReview(rewritten);
  smallerServer = await serveReview(smaller);
});
afterAll(async () => {
  await server?.close();
  await stagedServer?.close();
  await tamperingServer?.close();
  await rewrittenServer?.close();
  await smallerServer?.close();
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

/** The tree head view's signature verdict, once checked (and, with `pinned`, once checked against a pin). */
async function signatureVerdict(doc: Document, pinned = false): Promise<string> {
  return until(
    doc,
    () => {
      const t = doc.getElementById("signature-verdict")?.textContent ?? "";
      return t.startsWith("Tree head") && t.includes("pinned") === pinned ? t : undefined;
    },
    "the tree head's signature verdict",
  );
}

/** Pins `key` with the tree head view's form. */
async function pin(doc: Document, key: string): Promise<string> {
  await until(doc, () => doc.getElementById("pin-form"), "the pin form");
  (doc.getElementById("pin-input") as unknown as HTMLInputElement).value = key;
  (doc.getElementById("pin-form") as unknown as HTMLFormElement).requestSubmit();
  return signatureVerdict(doc, true);
}

async function signedHeadVerdict(doc: Document): Promise<string> {
  return until(
    doc,
    () => {
      const t = doc.getElementById("signed-head-verdict")?.textContent ?? "";
      return t.startsWith("Comparing") ? undefined : t || undefined;
    },
    "the comparison with the signed tree head",
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

  it("takes the filters from a link, as the charts drill down, and only the filters it knows", async () => {
    const query = new URLSearchParams({
      agency: "moh",
      decision: "deny",
      from: localInput(WED + 20 * MIN),
      to: localInput(WED + 60 * MIN),
      limit: "1",
    });
    const { doc } = await open(`#/exchanges/${encodeURIComponent(query.toString())}`);
    typeToken(doc, TOKEN);
    const rows = await tableRows(doc, "exchanges-results", 1);
    expect(rows.map((r) => r[2])).toEqual(
      newestFirst((e) => e.decision === "deny" && e.index >= 20 && e.index < 60),
    );
    expect((doc.getElementById("f-agency") as unknown as HTMLInputElement).value).toBe("moh");
    expect((doc.getElementById("f-decision") as unknown as HTMLSelectElement).value).toBe("deny");
    // The field shows the same instant (a browser drops ":00" seconds from the value).
    const from = (doc.getElementById("f-from") as unknown as HTMLInputElement).value;
    expect(new Date(from).getTime()).toBe(WED + 20 * MIN);
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
    // The server's reason is shown with it.
    expect(doc.getElementById("token-message")?.textContent).toContain(
      "this bearer token is not a reviewer's",
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

describe("the tree head's signature, checked in the browser", () => {
  it("says the head is signed by the key this server serves, and that this is all it shows, with no pin", async () => {
    const { page, doc } = await open("#/head");
    typeToken(doc, TOKEN);
    const v = await signatureVerdict(doc);
    expect(v).toMatch(/^Tree head signed by the key this server serves: over log xbus-test-log, size 120, /);
    expect(v).toContain("This only shows the head was signed by the key this server serves");
    expect(doc.querySelector("#signature-verdict .verified")).not.toBeNull();
    expect(doc.getElementById("served-key-fingerprint")?.textContent).toBe(fingerprintOf(LOG_KEY));
    expect(doc.getElementById("pinned-key")?.textContent).toBe("No key pinned.");
    expect(page.mainFrame.window.sessionStorage.getItem("xbus-review-log-key")).toBeNull();
  });

  it("with the log's key pinned, says the head is signed by the pinned key, and keeps the pin in the tab only", async () => {
    const { page, doc } = await open("#/head");
    typeToken(doc, TOKEN);
    await signatureVerdict(doc);
    const v = await pin(doc, LOG_KEY);
    expect(v).toMatch(/^Tree head signed by the pinned key: /);
    expect(v).toContain("The server serves the pinned key.");
    expect(doc.getElementById("pinned-key-fingerprint")?.textContent).toBe(fingerprintOf(LOG_KEY));
    const w = page.mainFrame.window;
    expect(w.sessionStorage.getItem("xbus-review-log-key")).toBe(LOG_KEY);
    expect(w.localStorage.length).toBe(0);
    button(doc, "Unpin the key").click();
    expect(await signatureVerdict(doc)).toMatch(/^Tree head signed by the key this server serves/);
    expect(w.sessionStorage.getItem("xbus-review-log-key")).toBeNull();
  });

  it("with another Ed25519 key pinned, says the head is NOT signed by the pinned key", async () => {
    const { doc } = await open("#/head");
    typeToken(doc, TOKEN);
    await signatureVerdict(doc);
    const v = await pin(doc, ROGUE_KEY);
    expect(v).toMatch(/^Tree head NOT signed by the pinned key: the signature does not verify/);
    expect(v).toContain("The server serves another key than the pinned one.");
    expect(doc.querySelector("#signature-verdict .not-verified")).not.toBeNull();
  });

  it("refuses to pin what is not a 32-byte key in base64", async () => {
    const { page, doc } = await open("#/head");
    typeToken(doc, TOKEN);
    await signatureVerdict(doc);
    (doc.getElementById("pin-input") as unknown as HTMLInputElement).value = LOG_KEY.slice(4);
    (doc.getElementById("pin-form") as unknown as HTMLFormElement).requestSubmit();
    expect(doc.getElementById("pin-message")?.textContent).toMatch(/^Not pinned: /);
    expect(page.mainFrame.window.sessionStorage.getItem("xbus-review-log-key")).toBeNull();
  });

  it("says a tree head whose root was altered is NOT signed, by the served key or the pinned one", async () => {
    const { doc } = await open("#/head", tamperingServer.url);
    typeToken(doc, TOKEN);
    expect(await signatureVerdict(doc)).toMatch(/^Tree head NOT signed by the key this server serves: /);
    expect(await pin(doc, LOG_KEY)).toMatch(/^Tree head NOT signed by the pinned key: /);
  });

  it("tells a head signed by the key a rewriting server serves from one signed by the pinned key", async () => {
    const { doc } = await open("#/head", rewrittenServer.url);
    typeToken(doc, TOKEN);
    expect(await signatureVerdict(doc)).toMatch(/^Tree head signed by the key this server serves/);
    expect(doc.getElementById("served-key-fingerprint")?.textContent).toBe(fingerprintOf(ROGUE_KEY));
    expect(await pin(doc, LOG_KEY)).toMatch(/^Tree head NOT signed by the pinned key: /);
  });
});

describe("an exchange's proof against the signed tree head", () => {
  const e = exchanges[42] as (typeof exchanges)[number];

  it("says the root the proof at the signed head's size leads to is that head's root", async () => {
    const { doc } = await open(`#/exchange/${e.id}`);
    typeToken(doc, TOKEN);
    const v = await signedHeadVerdict(doc);
    expect(v).toBe(
      `Root matches the signed tree head: the proof at size 120 leads to ${log.reader.latestTreeHead()?.rootHash}, ` +
        "the root of the tree head of size 120, signed by the key this server serves (which only shows the " +
        "server holds that key; pin the log's key on the tree head view).",
    );
    expect(doc.querySelector("#signed-head-verdict .verified")).not.toBeNull();
  });

  it("with the log's key pinned, says the head is signed by it; with another, does not compare", async () => {
    const { page, doc } = await open("#/head");
    typeToken(doc, TOKEN);
    await signatureVerdict(doc);
    await pin(doc, LOG_KEY);
    page.mainFrame.window.location.hash = `#/exchange/${e.id}`;
    expect(await signedHeadVerdict(doc)).toMatch(
      /^Root matches the signed tree head: the proof at size 120 leads to [0-9a-f]{64}, the root of the tree head of size 120, signed by the pinned key\.$/,
    );
    page.mainFrame.window.location.hash = "#/head";
    await pin(doc, ROGUE_KEY);
    page.mainFrame.window.location.hash = `#/exchange/${e.id}`;
    expect(await signedHeadVerdict(doc)).toMatch(
      /^Not compared with a signed head: the tree head of size 120 is NOT signed by the pinned key/,
    );
  });

  it("does not compare with a tree head whose signature fails", async () => {
    const { doc } = await open(`#/exchange/${e.id}`, tamperingServer.url);
    typeToken(doc, TOKEN);
    expect(await signedHeadVerdict(doc)).toMatch(
      /^Not compared with a signed head: the tree head of size 120 is NOT signed by the key this server serves/,
    );
    expect(doc.querySelector("#signed-head-verdict .not-verified")).not.toBeNull();
  });

  it("says the root is NOT that of a signed head of the same size over another root", async () => {
    const { doc } = await open(`#/exchange/${e.id}`, rewrittenServer.url);
    typeToken(doc, TOKEN);
    expect(await verdict(doc)).toMatch(/^Inclusion proof verified/);
    expect(await signedHeadVerdict(doc)).toMatch(
      new RegExp(
        `^Root is NOT that of the signed tree head: the proof at size 120 leads to ${rootAt(COUNT)}; the tree head of size 120, signed by the key this server serves .*has root ${"ab".repeat(32)}\\.$`,
      ),
    );
  });

  it("compares with the signed head though the answer's own proof is of another size", async () => {
    const { doc } = await open(`#/exchange/${e.id}`, smallerServer.url);
    typeToken(doc, TOKEN);
    expect(await verdict(doc)).toMatch(/^Inclusion proof verified: leaf 42 is in the tree of 120 leaves/);
    expect(await signedHeadVerdict(doc)).toMatch(
      new RegExp(
        `^Root matches the signed tree head: the proof at size 119 leads to ${rootAt(COUNT - 1)}, the root of the tree head of size 119, `,
      ),
    );
  });
});

/** The consistency verdict, once shown, and once it is another element than `before` (a view shown again). */
async function consistencyVerdict(doc: Document, before?: unknown): Promise<string> {
  return until(
    doc,
    () => {
      const p = doc.getElementById("consistency-verdict");
      return p && p !== before ? p.textContent : undefined;
    },
    "the consistency verdict",
  );
}

/** Clicks the tree head view's reload button and gives the new consistency verdict. */
async function reloadHead(doc: Document): Promise<string> {
  const before = doc.getElementById("consistency-verdict");
  button(doc, "Load the latest head again").click();
  return consistencyVerdict(doc, before);
}

/** The head this tab remembers for the test log under `key`. */
function remembered(page: BrowserPage, key = LOG_KEY): { tree_size: number; root_hash: string } | null {
  const slot = `xbus-review-seen-head:${JSON.stringify(["xbus-test-log", key])}`;
  return JSON.parse(page.mainFrame.window.sessionStorage.getItem(slot) ?? "null");
}

const INCONSISTENT = "NOT consistent: the log was rewritten or forked: ";

describe("successive tree heads, checked consistent in the browser", () => {
  beforeEach(() => {
    Object.assign(staged, { head: undefined, tamperConsistency: false, tamperInclusion: false, asked: [] });
  });

  it("remembers the first head it verified, then proves each larger head extends the one before", async () => {
    staged.head = { treeSize: 1 };
    const { page, doc } = await open("#/head", stagedServer.url);
    typeToken(doc, TOKEN);
    expect(await consistencyVerdict(doc)).toBe(
      `First head seen in this tab for this log and key: size 1, root ${rootAt(1)} is remembered in this ` +
        "tab; each later head of log xbus-test-log signed by this key is checked to extend it.",
    );
    expect(remembered(page)).toMatchObject({ tree_size: 1, root_hash: rootAt(1) });
    // From 1, through powers of two and the sizes beside them, to the real head; and once at the same size.
    let before = 1;
    for (const size of [2, 3, 4, 8, 9, 64, 100, COUNT, COUNT]) {
      staged.head = size === COUNT ? undefined : { treeSize: size };
      const v = await reloadHead(doc);
      expect(v).toMatch(new RegExp(`^Consistent with the head seen at size ${before}: `));
      if (size > before) {
        expect(v).toContain(
          `the consistency proof from ${before} to ${size} leaves, checked in this browser`,
        );
        expect(staged.asked.at(-1)).toBe(`/v1/log/proof/consistency?first=${before}&second=${size}`);
      } else expect(v).toContain("the same tree as the head seen before: same size, same root.");
      expect(doc.querySelector("#consistency-verdict .verified")).not.toBeNull();
      expect(remembered(page)).toMatchObject({ tree_size: size, root_hash: rootAt(size) });
      before = size;
    }
    expect(staged.asked.filter((a) => a.includes("consistency"))).toHaveLength(8);
  });

  it("says NOT consistent when the proof between the heads was altered, and keeps the head seen before", async () => {
    staged.head = { treeSize: 60 };
    const { page, doc } = await open("#/head", stagedServer.url);
    typeToken(doc, TOKEN);
    await consistencyVerdict(doc);
    staged.head = undefined;
    staged.tamperConsistency = true;
    const v = await reloadHead(doc);
    expect(v).toMatch(
      new RegExp(
        `^${INCONSISTENT}the consistency proof from 60 to 120 leaves leads to [0-9a-f]{64}, not to this head's root ${rootAt(COUNT)}\\. The head seen at size 60 \\(root ${rootAt(60)}\\) stays remembered; this one is not\\.$`,
      ),
    );
    expect(doc.querySelector("#consistency-verdict.alarm .not-verified")).not.toBeNull();
    expect(doc.getElementById("status")?.textContent).toContain("NOT consistent");
    expect(remembered(page)).toMatchObject({ tree_size: 60, root_hash: rootAt(60) });
    // The head seen before was kept: with the log's own proof, the same head now extends it.
    staged.tamperConsistency = false;
    expect(await reloadHead(doc)).toMatch(/^Consistent with the head seen at size 60: /);
    expect(remembered(page)).toMatchObject({ tree_size: COUNT });
  });

  it("says NOT consistent for a head of the same size with another root, though the pinned log key signed it", async () => {
    const { page, doc } = await open("#/head", stagedServer.url);
    typeToken(doc, TOKEN);
    await signatureVerdict(doc);
    await pin(doc, LOG_KEY);
    // The same key as the one served before the pin: the same head of the same log, seen again.
    expect(await consistencyVerdict(doc)).toMatch(
      /^Consistent with the head seen at size 120: the same tree/,
    );
    staged.head = { treeSize: COUNT, rootHash: "ab".repeat(32) };
    const v = await reloadHead(doc);
    expect(await signatureVerdict(doc, true)).toMatch(/^Tree head signed by the pinned key: /);
    expect(v).toBe(
      `${INCONSISTENT}this head and the head seen before are both of 120 leaves, but this one's root is ` +
        `${"ab".repeat(32)}. The head seen at size 120 (root ${rootAt(COUNT)}) stays remembered; this one is not.`,
    );
    expect(remembered(page)).toMatchObject({ tree_size: COUNT, root_hash: rootAt(COUNT) });
  });

  it("says NOT consistent for a smaller head, on the tree head view and beside an exchange", async () => {
    const { page, doc } = await open("#/head", stagedServer.url);
    typeToken(doc, TOKEN);
    await consistencyVerdict(doc);
    staged.head = { treeSize: 60 };
    expect(await reloadHead(doc)).toBe(
      `${INCONSISTENT}this head is of 60 leaves, fewer than the 120 of the head seen before: a log only grows. ` +
        `The head seen at size 120 (root ${rootAt(COUNT)}) stays remembered; this one is not.`,
    );
    page.mainFrame.window.location.hash = `#/exchange/${(exchanges[42] as (typeof exchanges)[number]).id}`;
    await signedHeadVerdict(doc);
    expect(await consistencyVerdict(doc)).toMatch(new RegExp(`^${INCONSISTENT}this head is of 60 leaves`));
    expect(doc.getElementById("status")?.textContent).toContain(
      "the signed head is NOT consistent with the one seen before",
    );
    expect(remembered(page)).toMatchObject({ tree_size: COUNT });
    expect(staged.asked.filter((a) => a.includes("consistency"))).toEqual([]);
  });

  it("does not check a head signed by another key against the log key's heads, and says the key changed", async () => {
    staged.head = { treeSize: 60 };
    const { page, doc } = await open("#/head", stagedServer.url);
    typeToken(doc, TOKEN);
    await consistencyVerdict(doc);
    staged.head = { treeSize: 30, rogue: true };
    expect(await reloadHead(doc)).toBe(
      "Signed by another key than the heads of this log seen before: heads of log xbus-test-log were seen " +
        `in this tab under a key of SHA-256 fingerprint ${fingerprintOf(LOG_KEY)}, and this one under another, ` +
        `so it cannot be checked against them. Its size 30, root ${rootAt(30)} is remembered in this tab; each ` +
        "later head of log xbus-test-log signed by this key is checked to extend it.",
    );
    expect(doc.querySelector("#consistency-verdict .not-verified")).not.toBeNull();
    expect(remembered(page)).toMatchObject({ tree_size: 60 });
    expect(remembered(page, ROGUE_KEY)).toMatchObject({ tree_size: 30 });
  });

  it("neither compares nor remembers a head whose signature fails", async () => {
    const { page, doc } = await open("#/head", tamperingServer.url);
    typeToken(doc, TOKEN);
    expect(await consistencyVerdict(doc)).toMatch(
      /^Consistency not checked: this head's signature did not verify/,
    );
    expect(remembered(page)).toBeNull();
  });
});

describe("an exchange's inclusion, proved at the signed head's size", () => {
  const e = exchanges[42] as (typeof exchanges)[number];
  beforeEach(() => {
    Object.assign(staged, { head: undefined, tamperConsistency: false, tamperInclusion: false, asked: [] });
  });

  it("asks for the proof at the signed head's size and checks it against that head's root", async () => {
    staged.head = { treeSize: 100 };
    const { doc } = await open(`#/exchange/${e.id}`, stagedServer.url);
    typeToken(doc, TOKEN);
    expect(await verdict(doc)).toMatch(/^Inclusion proof verified: leaf 42 is in the tree of 120 leaves/);
    expect(await signedHeadVerdict(doc)).toBe(
      `Root matches the signed tree head: the proof at size 100 leads to ${rootAt(100)}, the root of the tree ` +
        "head of size 100, signed by the key this server serves (which only shows the server holds that key; " +
        "pin the log's key on the tree head view).",
    );
    expect(staged.asked).toEqual(["/v1/log/proof/inclusion?index=42&tree_size=100"]);
    const proof = doc.getElementById("signed-head-proof")?.textContent ?? "";
    expect(proof).toContain("Signed tree size100");
    expect(proof).toContain(`Signed root hash${rootAt(100)}`);
    expect(await consistencyVerdict(doc)).toMatch(/^First head seen in this tab/);
  });

  it("says the root is NOT the signed head's when the proof at its size was altered", async () => {
    staged.tamperInclusion = true;
    const { doc } = await open(`#/exchange/${e.id}`, stagedServer.url);
    typeToken(doc, TOKEN);
    expect(await signedHeadVerdict(doc)).toMatch(
      new RegExp(
        `^Root is NOT that of the signed tree head: the proof at size 120 leads to (?!${rootAt(COUNT)})[0-9a-f]{64}; the tree head of size 120, .*has root ${rootAt(COUNT)}\\.$`,
      ),
    );
    expect(doc.querySelector("#signed-head-verdict .not-verified")).not.toBeNull();
  });

  it("says an exchange logged after the latest signed head is not in it yet, and asks for no proof", async () => {
    staged.head = { treeSize: 30 };
    const { doc } = await open(`#/exchange/${e.id}`, stagedServer.url);
    typeToken(doc, TOKEN);
    expect(await signedHeadVerdict(doc)).toBe(
      "Not compared with a signed head: leaf 42 is not in the latest signed tree head, of 30 leaves: it was " +
        "logged after that head was signed, and a later head will cover it.",
    );
    expect(staged.asked).toEqual([]);
  });
});
