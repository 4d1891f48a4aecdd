import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  cosignatureLine,
  cosignerVkey,
  logVkey,
  parseNote,
  parseVkey,
  signCheckpoint,
} from "../core/log-format/index.js";
import { rawEd25519 } from "../core/signing/index.js";
import { openCheckpoint } from "./checkpoint.js";
import { parseWitnessPolicy } from "./witness-policy.js";

// C2SP checkpoints, cosignatures and policies: our writer against our verifier, and the verifier against
// the published example of c2sp.org/signed-note (a vector made by another implementation).

const ORIGIN = "gov.bt/xbus-log-test";
const keyPair = () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { privateKey, raw: rawEd25519(publicKey) };
};
const log = keyPair();
const VKEY = logVkey(ORIGIN, log.raw);
const root = Buffer.alloc(32, 7);
const checkpoint = (size = 5, r = root, k = log) =>
  signCheckpoint({ origin: ORIGIN, size, rootHash: r }, k.privateKey, k.raw);
const w1 = keyPair();
const w2 = keyPair();
const cosign = (note: string, name: string, w: typeof w1, time = 1_700_000_000) =>
  note + cosignatureLine(parseNote(note).text, name, w.privateKey, w.raw, time);
const policy = parseWitnessPolicy(
  [
    `log ${VKEY}`,
    `witness W1 ${cosignerVkey("w1.example", w1.raw)} http://w1.example`,
    `witness W2 ${cosignerVkey("w2.example", w2.raw)}`,
    "group agencies 2 W1 W2",
    "quorum agencies",
  ].join("\n"),
);

describe("signed notes and verifier keys", () => {
  it("checks the published signed-note example with its vkey", () => {
    const vkey = parseVkey("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k");
    expect(vkey.name).toBe("example.com/foo");
    const note = parseNote(
      "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n",
    );
    expect(note.text).toBe("This is an example message.\n");
    expect(note.signatures[0]?.keyId.equals(vkey.keyId)).toBe(true);
  });

  it("refuses a vkey whose key ID does not match its name", () => {
    const other = logVkey("gov.bt/another", log.raw).split("+")[1];
    // The base64 key may itself hold "+": only the first two separate the parts.
    const [, name, , key] = /^([^+]*)\+([^+]*)\+(.*)$/.exec(VKEY) ?? [];
    expect(() => parseVkey(`${name}+${other}+${key}`)).toThrow(/key ID does not match/);
  });

  it("refuses notes signed-note forbids", () => {
    expect(() => parseNote("a\n— x AAAAAAA=\n")).toThrow(/no blank line/);
    expect(() => parseNote("a\tb\n\n— x AAAAAAAA\n")).toThrow(/control character/);
    expect(() => parseNote("a\n\n- x AAAAAAAA\n")).toThrow(/signature line 1/);
  });
});

describe("openCheckpoint", () => {
  it("opens our checkpoint with our vkey: origin, size, root", () => {
    const note = checkpoint();
    expect(note).toMatch(
      new RegExp(`^${ORIGIN}\\n5\\n${root.toString("base64").replace(/[+/]/g, "\\$&")}\\n\\n— ${ORIGIN} `),
    );
    const r = openCheckpoint(note, { logVkey: VKEY });
    expect(r.ok && r.checkpoint.size === 5 && r.checkpoint.rootHash.equals(root)).toBe(true);
  });

  it("refuses one changed byte, another key, another origin; ignores unknown signatures", () => {
    const note = checkpoint();
    expect(openCheckpoint(note.replace("\n5\n", "\n6\n"), { logVkey: VKEY })).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/does not verify/),
    });
    const rogue = keyPair();
    expect(openCheckpoint(checkpoint(5, root, rogue), { logVkey: VKEY })).toMatchObject({
      problem: "the checkpoint carries no signature of the log's key",
    });
    expect(openCheckpoint(note, { logVkey: logVkey("gov.bt/other", log.raw) })).toMatchObject({
      problem: expect.stringMatching(/origin/),
    });
    expect(openCheckpoint(cosign(note, "stranger.example", rogue), { logVkey: VKEY }).ok).toBe(true);
  });

  it("holds a policy's quorum: 2 of 2 cosignatures, each verified with its time", () => {
    const note = checkpoint();
    expect(openCheckpoint(note, { logVkey: VKEY, policy })).toMatchObject({
      problem: expect.stringMatching(/no trusted witness: not enough for the policy's quorum agencies/),
    });
    const one = cosign(note, "w1.example", w1, 1_700_000_001);
    expect(openCheckpoint(one, { logVkey: VKEY, policy })).toMatchObject({
      ok: false,
      problem:
        "the checkpoint (size 5) is cosigned by W1: not enough for the policy's quorum agencies (no cosignature of W2)",
    });
    const both = cosign(one, "w2.example", w2, 1_700_000_002);
    expect(openCheckpoint(both, { logVkey: VKEY, policy })).toMatchObject({
      ok: true,
      cosigned: [
        { name: "W1", time: 1_700_000_001 },
        { name: "W2", time: 1_700_000_002 },
      ],
    });
    // A cosignature moved to another checkpoint of the same size does not verify.
    const line = both.split("\n").at(-2) as string;
    const forked = cosign(checkpoint(5, Buffer.alloc(32, 8)), "w1.example", w1);
    expect(openCheckpoint(`${forked}${line}\n`, { logVkey: VKEY, policy })).toMatchObject({
      problem: "witness W2's cosignature does not verify",
    });
  });

  it("parses policies by c2sp.org/tlog-policy and names the bad line", () => {
    expect(parseWitnessPolicy(`log ${VKEY}\nquorum none\n`).satisfied(new Set())).toBe(true);
    expect(() => parseWitnessPolicy(`log ${VKEY}\n`)).toThrow(/no quorum line/);
    expect(() => parseWitnessPolicy("quorum W9")).toThrow(/policy line 1: W9 is not defined/);
    expect(() => parseWitnessPolicy(`witness W ${VKEY}\nquorum W`)).toThrow(/signature type 1/);
    expect(() =>
      parseWitnessPolicy(
        `witness A ${cosignerVkey("a", w1.raw)}\nwitness B ${cosignerVkey("b", w1.raw)}\nquorum A`,
      ),
    ).toThrow(/listed twice/);
    const any = parseWitnessPolicy(
      `witness A ${cosignerVkey("a", w1.raw)}\nwitness B ${cosignerVkey("b", w2.raw)}\ngroup g any A B\nquorum g`,
    );
    expect([any.satisfied(new Set(["B"])), any.satisfied(new Set())]).toEqual([true, false]);
  });
});
