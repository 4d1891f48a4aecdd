import { createHash, generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leafHash } from "../../core/log-format/index.js";
import { Decision, ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import { verifyConsistency, verifyInclusion } from "../../verifier/index.js";
import { LogIndex, LogIndexReader, type TreeHead } from "../indexer/log-index.js";
import { subjectRef } from "../log/subject-ref.js";
import { createReviewApp } from "../review/app.js";
import { createCitizenApp } from "./app.js";
import type { OidcSignIn } from "./oidc-sign-in.js";

// Delayed disclosure over a real index: a covert exchange is a leaf like any other from the moment it
// is appended (proved in every tree head since, each head consistent with the last), hidden from its
// citizen until its date by the injected clock, then shown at its original index with its original
// leaf; oversight counts it while it is hidden. The broker's side (grant, legal order) is in
// test/e2e/delayed-disclosure.test.ts.

const SECRET = randomBytes(32);
const ALICE = "10000000001";
const BOB = "10000000002";
const T0 = Date.UTC(2026, 11, 1, 4);
const DAY = 86_400_000;
const RELEASE = T0 + 180 * DAY;
const ORDER = "CR/2026/77";
const RBP = "spiffe://gov.bt/agency/rbp/system/investigations";

type Init = MessageInitShape<typeof ExchangeRecordSchema>;
const record = (subject: string, i: number, covert = false): Init => ({
  exchangeId: randomUUID(),
  time: BigInt(T0 + i * 60_000),
  consumer: covert ? RBP : "spiffe://gov.bt/agency/moe/system/scholarships",
  service: "dcrc.citizen-record",
  subjectRef: subjectRef(SECRET, subject),
  purpose: covert ? "criminal-investigation" : "scholarship-eligibility",
  decision: Decision.ALLOW,
  status: "OK",
  fieldsReleased: ["name"],
  ...(covert ? { discloseAfter: BigInt(RELEASE), legalOrderRef: ORDER } : {}),
});
/** One batch per signed head: the covert exchange is the second leaf, and three heads follow it. */
const batches: Init[][] = [
  [record(ALICE, 0)],
  [record(ALICE, 1, true)],
  [record(BOB, 2)],
  [record(ALICE, 3), record(BOB, 4)],
];
const covert = batches[1]?.[0] as Init;
const leafOf = (r: Init) => toBinary(ExchangeRecordSchema, create(ExchangeRecordSchema, r));

let dir: string;
let reader: LogIndexReader;
let heads: TreeHead[];
let now = T0 + DAY;
const { privateKey, publicKey } = generateKeyPairSync("ed25519");

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "xbus-embargo-"));
  const writer = new LogIndex(join(dir, "index.sqlite"), "xbus-test-log", privateKey);
  let seq = 0;
  for (const batch of batches) {
    writer.appendBatch(batch.map((r) => ({ seq: ++seq, leaf: leafOf(r) })));
    writer.signTreeHead(T0 + seq * 60_000);
  }
  writer.close();
  reader = new LogIndexReader(join(dir, "index.sqlite"), "xbus-test-log");
  heads = reader.treeHeads();
});
afterAll(() => {
  reader?.close();
  rmSync(dir, { recursive: true, force: true });
});

const signIn: OidcSignIn = {
  begin: async () => ({
    url: new URL("https://id.example/authorize"),
    pending: { state: "s", nonce: "n", codeVerifier: "v" },
  }),
  finish: async (url) => url.searchParams.get("code") ?? "",
};
const citizenApp = () =>
  createCitizenApp({
    index: reader,
    logPublicKey: publicKey,
    logSecret: SECRET,
    subjectIdPattern: /^\d{11}$/,
    purposes: () => new Map(),
    signIn,
    cookieSecret: randomBytes(32).toString("base64url"),
    secure: false,
    now: () => now,
  });
const TOKEN = "oversight-reviewer-token";
const reviewApp = () =>
  createReviewApp({
    index: reader,
    logPublicKey: publicKey,
    tokenHashes: [createHash("sha256").update(TOKEN).digest("hex")],
    logSecret: SECRET,
    subjectIdPattern: /^\d{11}$/,
    now: () => now,
  });

async function session(a: ReturnType<typeof citizenApp>, subject: string): Promise<string> {
  const cookie = (res: Response, name: string) =>
    res.headers
      .getSetCookie()
      .find((c) => c.startsWith(`${name}=`))
      ?.split(";")[0] ?? "";
  const pending = cookie(await a.request("/citizen/login"), "xbus_citizen_sign_in");
  const cb = await a.request(`/citizen/callback?code=${subject}&state=s`, { headers: { cookie: pending } });
  return cookie(cb, "xbus_citizen");
}

interface Row {
  index: number;
  exchange_id: string;
  leaf_hash: string;
  disclosed_at: number | null;
  legal_order_ref: string | null;
}
async function rowsOf(subject: string) {
  const a = citizenApp();
  const cookie = await session(a, subject);
  const get = (path: string) => a.request(path, { headers: { cookie } });
  const body = (await (await get("/citizen/api/accesses")).json()) as { accesses: Row[] };
  const exported = (await (await get("/citizen/api/export")).json()) as { accesses: Row[] };
  return { rows: body.accesses, exported: exported.accesses, get };
}
const review = (path: string) => reviewApp().request(path, { headers: { authorization: `Bearer ${TOKEN}` } });

it("logs the covert exchange at once: its leaf is in every tree head since, each consistent with the last", () => {
  expect(heads.map((h) => h.treeSize)).toEqual([1, 2, 3, 5]);
  const leaf = leafHash(leafOf(covert));
  expect(reader.tree.leafHash(1).equals(leaf)).toBe(true);
  for (const h of heads.filter((h) => h.treeSize > 1)) {
    const path = reader.tree.inclusionProof(1, h.treeSize);
    expect(verifyInclusion(1, h.treeSize, leaf, path, Buffer.from(h.rootHash, "hex"))).toBe(true);
  }
  for (let i = 1; i < heads.length; i++) {
    const [a, b] = [heads[i - 1] as TreeHead, heads[i] as TreeHead];
    const proof = reader.tree.consistencyProof(a.treeSize, b.treeSize);
    const roots = [Buffer.from(a.rootHash, "hex"), Buffer.from(b.rootHash, "hex")] as const;
    expect(verifyConsistency(a.treeSize, b.treeSize, ...roots, proof)).toBe(true);
  }
});

describe("before the release date", () => {
  it("hides it from its citizen's page, proof route and download", async () => {
    now = RELEASE - 1;
    const { rows, exported, get } = await rowsOf(ALICE);
    expect(rows.map((r) => r.index)).toEqual([3, 0]);
    expect(exported.map((r) => r.index)).toEqual([3, 0]);
    expect((await get(`/citizen/api/accesses/${covert.exchangeId}/proof`)).status).toBe(404);
  });

  it("shows it to reviewers, and oversight counts it per agency with its release date", async () => {
    now = RELEASE - 1;
    const one = (await (await review(`/v1/exchanges/${covert.exchangeId}`)).json()) as {
      record: { disclose_after: string; legal_order_ref: string };
    };
    expect(Number(one.record.disclose_after)).toBe(RELEASE);
    expect(one.record.legal_order_ref).toBe(ORDER);
    const res = await review("/v1/oversight/embargoes");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      now,
      total: 1,
      agencies: [
        {
          agency: "rbp",
          count: 1,
          releases: [
            {
              day: new Date(RELEASE).toISOString().slice(0, 10),
              consumer: RBP,
              count: 1,
              first: RELEASE,
              last: RELEASE,
            },
          ],
        },
      ],
    });
    expect((await reviewApp().request("/v1/oversight/embargoes")).status).toBe(401);
  });
});

describe("from the release date", () => {
  it("shows it at its original index with its original leaf, the order named, and proves it", async () => {
    now = RELEASE;
    const { rows, exported, get } = await rowsOf(ALICE);
    expect(rows.map((r) => r.index)).toEqual([3, 1, 0]);
    expect(exported.map((r) => r.index)).toEqual([3, 1, 0]);
    const row = rows.find((r) => r.exchange_id === covert.exchangeId);
    expect(row).toMatchObject({ index: 1, disclosed_at: RELEASE, legal_order_ref: ORDER });
    expect(row?.leaf_hash).toBe(leafHash(leafOf(covert)).toString("hex"));
    const proof = (await (await get(`/citizen/api/accesses/${covert.exchangeId}/proof`)).json()) as {
      index: number;
      tree_size: number;
      audit_path: string[];
      tree_head: { root_hash: string };
    };
    expect(proof.index).toBe(1);
    const path = proof.audit_path.map((h) => Buffer.from(h, "hex"));
    const root = Buffer.from(proof.tree_head.root_hash, "hex");
    expect(verifyInclusion(1, proof.tree_size, leafHash(leafOf(covert)), path, root)).toBe(true);
    // Oversight's count has nothing left to release; the other citizen still sees only their own.
    expect(((await (await review("/v1/oversight/embargoes")).json()) as { total: number }).total).toBe(0);
    expect((await rowsOf(BOB)).rows.map((r) => r.index)).toEqual([4, 2]);
  });
});

it("fills the embargo column of an index made before it, so no covert exchange shows early", () => {
  const path = join(dir, "old.sqlite");
  const w = new LogIndex(path, "xbus-test-log", privateKey);
  w.appendBatch(batches.flat().map((r, i) => ({ seq: i + 1, leaf: leafOf(r) })));
  w.close();
  // The schema as it was: no column, no index on it.
  const db = new Database(path);
  db.exec("DROP INDEX entries_embargo; ALTER TABLE entries DROP COLUMN disclose_after");
  db.close();
  new LogIndex(path, "xbus-test-log", privateKey).close();
  const r = new LogIndexReader(path, "xbus-test-log");
  try {
    expect(r.embargoes(T0).map((e) => e.first)).toEqual([RELEASE]);
    const visible = r.exchanges({ subjectRef: subjectRef(SECRET, ALICE), visibleAt: T0 + DAY, limit: 10 });
    expect(visible.map((e) => e.index)).toEqual([3, 0]);
  } finally {
    r.close();
  }
});
