import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { Decision } from "../proto/gen/xbus/v1/log_pb.js";
import { LOG_ID, rogueSigner, writeTestLogIndex } from "../test/helpers/log-index.js";
import type { ExportLine } from "./export.js";
import type { TreeHeadJson } from "./review-client.js";
import { verifyExport } from "./verify.js";

// The offline verifier on exports of a real index holding more than one signed head: the heads must be
// of one log, under one key, and two heads of one size must have one root, before any entry is hashed.

const COUNT = 37;
const log = writeTestLogIndex(
  Array.from({ length: COUNT }, () => ({ exchangeId: randomUUID(), decision: Decision.ALLOW, status: "OK" })),
);
afterAll(() => log.close());
const LOG_KEY = log.keyBase64;
const rogue = rogueSigner();
const ROGUE_KEY = rogue.keyBase64;

const entries: ExportLine[] = log.reader.entries(0, COUNT).map((e) => ({
  type: "entry",
  index: e.index,
  leaf: e.leaf.toString("base64"),
  leaf_hash: log.reader.tree.leafHash(e.index).toString("hex"),
}));
/** An export of every entry with these heads first. */
const exportOf = (...heads: unknown[]): ExportLine[] => [
  ...heads.map((h) => ({ type: "tree_head", ...(h as TreeHeadJson) }) as ExportLine),
  ...entries,
];
const failure = (problem: string) => ({ ok: false, badIndex: undefined, problem });

describe("verifyExport: the export's tree heads", () => {
  it("passes one honest head, pinned to the log's key and ID, and returns it", () => {
    const head = log.signedHead();
    expect(verifyExport(exportOf(head), { publicKey: LOG_KEY, logId: LOG_ID })).toEqual({
      ok: true,
      entries: COUNT,
      treeHeads: 1,
      rootHash: head.root_hash,
      head: { type: "tree_head", ...head },
    });
  });

  it("passes heads of several sizes in any order, each rebuilt from the same entries", () => {
    const heads = [log.signedHead(), log.signedHead({ treeSize: 5 }), log.signedHead({ treeSize: 21 })];
    expect(verifyExport(exportOf(...heads))).toMatchObject({
      ok: true,
      treeHeads: 3,
      rootHash: heads[0]?.root_hash,
    });
  });

  it("passes a head signed later over a smaller prefix: the entries prove it consistent (a reindex signs those)", () => {
    const older = log.signedHead({ timestamp: 1_000 });
    const reindexed = log.signedHead({ treeSize: 20, timestamp: 2_000 });
    expect(verifyExport(exportOf(older, reindexed))).toMatchObject({ ok: true, treeHeads: 2 });
  });

  it("fails two heads of one size with different roots, both signed with the log's key: naming both roots", () => {
    const forked = "ab".repeat(32);
    const heads = [log.signedHead(), log.signedHead({ rootHash: forked })];
    expect(verifyExport(exportOf(...heads))).toEqual(
      failure(
        `the log was rewritten or forked: the export's tree head 1 of 2 and the export's tree head 2 of 2 are both of size ${COUNT} but their roots differ, ${heads[0]?.root_hash} and ${forked}`,
      ),
    );
  });

  it("fails a head of another log ID beside the log's own", () => {
    expect(
      verifyExport(exportOf(log.signedHead(), log.signedHead({ treeSize: 9, logId: "another-log" }))),
    ).toEqual(
      failure(
        `the export's tree head 2 of 2 is of log "another-log", but the log ID of the export's tree head 1 of 2 is "${LOG_ID}"`,
      ),
    );
  });

  it("fails a head under another key beside the log's own, even without a pinned key", () => {
    const other = log.signedHead({ treeSize: 9, signer: rogue.privateKey, publicKey: ROGUE_KEY });
    expect(verifyExport(exportOf(log.signedHead(), other))).toEqual(
      failure(
        `the export's tree head 2 of 2 names public key ${ROGUE_KEY}, but the key of the export's tree head 1 of 2 is ${LOG_KEY}`,
      ),
    );
  });

  it("fails a head naming the pinned key but signed by another", () => {
    const head = log.signedHead({ signer: rogue.privateKey });
    expect(verifyExport(exportOf(head), { publicKey: LOG_KEY })).toEqual(
      failure(`the export's tree head (size ${COUNT}): the signature does not verify with the pinned key`),
    );
  });

  it("fails a head of another log than --log-id", () => {
    expect(verifyExport(exportOf(log.signedHead()), { logId: "the-real-log" })).toEqual(
      failure(
        `the export's tree head is of log "${LOG_ID}", but the log ID given (--log-id) is "the-real-log"`,
      ),
    );
  });

  it.each([
    ["tree_size", "37", "tree_size is not a non-negative integer"],
    ["tree_size", -1, "tree_size is not a non-negative integer"],
    ["root_hash", "AB".repeat(32), "root_hash is not 64 lowercase hex digits"],
    ["timestamp", "now", "timestamp is not an integer"],
    ["signature", "c2lnbmF0dXJl", "signature is not 64 bytes in base64"],
    ["public_key", "a2V5", "public_key is not 32 bytes in base64"],
    ["log_id", "", "log_id is not a non-empty string"],
  ])("fails a head whose %s is %j, saying so", (field, value, shape) => {
    expect(verifyExport(exportOf({ ...log.signedHead(), [field]: value }))).toEqual(
      failure(`the export's tree head is not a signed tree head: ${shape}`),
    );
  });
});
