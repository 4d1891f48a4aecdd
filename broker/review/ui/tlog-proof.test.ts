import { generateKeyPairSync } from "node:crypto";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import {
  cosignatureLine,
  cosignerVkey,
  formatTlogProof,
  logVkey,
  parseNote,
  leafHash as serverLeafHash,
  signCheckpoint,
} from "../../../core/log-format/index.js";
import { rawEd25519 } from "../../../core/signing/index.js";
import { openCheckpoint, parseWitnessPolicy, verifyTlogProof } from "../../../verifier/index.js";
import { MerkleStore } from "../../indexer/merkle-store.js";
import { checkTlogProof, parsePolicy } from "./tlog-proof.js";

// The browser's own tlog-proof check (tlog-proof.js, run here on Node's WebCrypto) on proofs the server's
// code writes (core/log-format), and against the command line's verdicts (verifier/) on the same inputs.

const ORIGIN = "gov.bt/xbus-log-test";
const keyPair = () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { privateKey, raw: rawEd25519(publicKey) };
};
const log = keyPair();
const w1 = keyPair();
const w2 = keyPair();
const w3 = keyPair();
const SIZE = 13;
const leaves = Array.from({ length: SIZE }, (_, i) => Buffer.from(`leaf-${i}`));
const store = new MerkleStore(new Database(":memory:"));
for (const l of leaves) store.append(serverLeafHash(l));
const policyText = [
  `log ${logVkey(ORIGIN, log.raw)}`,
  `witness W1 ${cosignerVkey("w1.example", w1.raw)} https://w1.example`,
  `witness W2 ${cosignerVkey("w2.example", w2.raw)}`,
  `witness W3 ${cosignerVkey("w3.example", w3.raw)}`,
  "group agencies 2 W1 W2 W3",
  "quorum agencies",
].join("\n");

const note = signCheckpoint(
  { origin: ORIGIN, size: SIZE, rootHash: store.root(SIZE) },
  log.privateKey,
  log.raw,
);
const cosign = (n: string, name: string, w: typeof w1, time: number) =>
  n + cosignatureLine(parseNote(n).text, name, w.privateKey, w.raw, time);
const both = cosign(cosign(note, "w1.example", w1, 1_700_000_001), "w2.example", w2, 1_700_000_002);
const proofOf = (index: number, checkpoint = both) =>
  formatTlogProof({ extra: Buffer.from("x"), index, proof: store.inclusionProof(index, SIZE), checkpoint });
const trust = (index: number, more: { policy?: string; logKey?: Uint8Array; logId?: string } = {}) => ({
  index,
  leaf: serverLeafHash(leaves[index] as Buffer),
  logId: ORIGIN,
  logKey: log.raw,
  policy: policyText,
  ...more,
});

describe("tlog-proof.js", () => {
  it("verifies every leaf's proof and names the witnesses with their times, as the command line does", async () => {
    for (let i = 0; i < SIZE; i++) {
      const r = await checkTlogProof(proofOf(i), trust(i));
      expect(r, `leaf ${i}`).toEqual({
        ok: true,
        detail: `size ${SIZE}`,
        size: SIZE,
        cosigned: [
          { name: "W1", time: 1_700_000_001 },
          { name: "W2", time: 1_700_000_002 },
        ],
      });
    }
    const cli = verifyTlogProof(
      proofOf(4),
      { hash: serverLeafHash(leaves[4] as Buffer), index: 4 },
      { logVkey: logVkey(ORIGIN, log.raw), policy: parseWitnessPolicy(policyText) },
    );
    expect(cli).toMatchObject({ ok: true });
  });

  it("refuses what the command line refuses, saying why", async () => {
    const one = cosign(note, "w1.example", w1, 1_700_000_001);
    const cases: [string, Promise<{ ok: boolean; detail: string }>, RegExp][] = [
      ["another leaf's proof", checkTlogProof(proofOf(3), trust(4)), /proof is of leaf 3, not of leaf 4/],
      [
        "another leaf's bytes",
        checkTlogProof(proofOf(3), { ...trust(3), leaf: serverLeafHash(Buffer.from("other")) }),
        /does not lead|leads to/,
      ],
      [
        "another log key",
        checkTlogProof(proofOf(3), trust(3, { logKey: keyPair().raw })),
        /no signature of the log's key/,
      ],
      ["another log", checkTlogProof(proofOf(3), trust(3, { logId: "gov.bt/other" })), /origin/],
      [
        "one cosignature of a quorum of two",
        checkTlogProof(proofOf(3, one), trust(3)),
        /cosigned by W1: not enough for the policy's quorum agencies \(no cosignature of W2, W3\)/,
      ],
      [
        "W2's cosignature with a character of its signature changed",
        checkTlogProof(
          proofOf(
            3,
            both.replace(/(— w2\.example \S{30})(\S)/, (_, a, c) => a + (c === "A" ? "B" : "A")),
          ),
          trust(3),
        ),
        /witness W2's cosignature does not verify/,
      ],
      ["no policy line", checkTlogProof(proofOf(3), trust(3, { policy: "witness W" })), /policy line 1/],
    ];
    for (const [what, got, why] of cases) {
      const r = await got;
      expect(r.ok, what).toBe(false);
      expect(r.detail, what).toMatch(why);
    }
    // The command line agrees on the quorum one.
    expect(
      openCheckpoint(one, { logVkey: logVkey(ORIGIN, log.raw), policy: parseWitnessPolicy(policyText) }),
    ).toMatchObject({ ok: false });
  });

  it("changing any one character of the proof makes it fail", async () => {
    const text = proofOf(6);
    const at = [...text.matchAll(/[A-Za-z0-9]/g)].map((m) => m.index ?? 0);
    // Every 7th letter or digit: the header, the index, proof hashes, the checkpoint and the signatures.
    for (const i of at.filter((_, k) => k % 7 === 0)) {
      const c = text[i] === "A" ? "B" : "A";
      const r = await checkTlogProof(text.slice(0, i) + c + text.slice(i + 1), trust(6));
      // The extra line is unauthenticated (c2sp.org/tlog-proof): a change there alone may pass.
      if (text.slice(0, i).split("\n").length === 2) continue;
      expect(r.ok, `character ${i} changed`).toBe(false);
    }
  });

  it("reads thresholds as the server's parser does", async () => {
    for (const group of ["all W1 W2 W3", "any W1 W2 W3", "1 W2", "3 W1 W2 W3"]) {
      const text = policyText.replace("group agencies 2 W1 W2 W3", `group agencies ${group}`);
      const mine = await parsePolicy(text);
      const theirs = parseWitnessPolicy(text);
      for (const have of [[], ["W1"], ["W2"], ["W1", "W2"], ["W1", "W2", "W3"]])
        expect(mine.satisfied(new Set(have)), `${group} with ${have}`).toBe(theirs.satisfied(new Set(have)));
    }
  });
});
