// @ts-check
// A C2SP tlog-proof (c2sp.org/tlog-proof), checked in this browser as `xbus log receipt --offline --proof`
// checks it on the command line (verifier/tlog-proof.ts, verifier/checkpoint.ts): the checkpoint is a signed
// note (c2sp.org/signed-note) whose Ed25519 signature by the log's key must verify, its inclusion path must
// lead from the leaf's own hash to the checkpoint's root, and the witnesses' cosignatures
// (c2sp.org/tlog-cosignature) must verify and meet the quorum of the witness policy (c2sp.org/tlog-policy).
// The server's code takes Node's Buffer and crypto, so this is the page's own, with WebCrypto alone, like
// merkle.js; its tests run it in Chromium on the proofs the server makes (ui-tlog-proof-chromium.test.ts).

import { fromBase64 } from "./base64.js";
import { rootFromInclusion, sameBytes, sha256, toHex } from "./merkle.js";

const HEADER = "c2sp.org/tlog-proof@v1";
const SIG_ED25519 = 0x01;
const SIG_COSIGNATURE_V1 = 0x04;
/** Standard padded base64, as the formats write it. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** A signed-note key name: no spaces, no plus. */
const KEY_NAME = /^[^\s+]+$/u;
const SIGNATURE_LINE = /^\u2014 (\S+) (\S+)$/u;
const INDEX_LINE = /^index (0|[1-9][0-9]{0,15})$/;
const SIZE_LINE = /^(?:0|[1-9][0-9]{0,15})$/;
const VKEY = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/s;
const THRESHOLD = /^[1-9][0-9]*$/;

/** Thrown for input that is not what the format allows; its message says which part. */
class Malformed extends Error {}

/** @param {string} s @param {string} what @returns {Uint8Array<ArrayBuffer>} */
function base64(s, what) {
  if (s === "" || !BASE64.test(s)) throw new Malformed(`${what} is not base64`);
  const bytes = fromBase64(s);
  // Canonical only, as the server's parser takes it: unused low bits in the last character must be zero,
  // so that one encoding is one proof.
  if (btoa(String.fromCharCode(...bytes)) !== s) throw new Malformed(`${what} is not canonical base64`);
  return bytes;
}

/** @param {Uint8Array[]} parts */
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const utf8 = (/** @type {string} */ s) => new TextEncoder().encode(s);

/** SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4], the signed-note key ID. @param {string} name @param {number} type @param {Uint8Array} key */
async function keyId(name, type, key) {
  return (await sha256(concat(utf8(name), new Uint8Array([0x0a, type]), key))).subarray(0, 4);
}

/** @param {Uint8Array<ArrayBuffer>} key @param {Uint8Array<ArrayBuffer>} signature @param {Uint8Array<ArrayBuffer>} bytes */
async function ed25519(key, signature, bytes) {
  const k = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, k, signature, bytes);
}

/**
 * A witness's vkey `<name>+<hex key ID>+base64(0x04 ‖ key)`, checked: the key ID must be the one the name
 * and key imply. @param {string} vkey @param {string} at
 */
async function witnessVkey(vkey, at) {
  const m = VKEY.exec(vkey);
  if (!m) throw new Malformed(`${at}: not a verifier key (name+keyid+base64)`);
  const [, name = "", hexId = "", b64 = ""] = m;
  const raw = base64(b64, `${at}: the key`);
  if (raw[0] !== SIG_COSIGNATURE_V1 || raw.length !== 33)
    throw new Malformed(`${at}: not a cosignature/v1 Ed25519 key`);
  const key = raw.slice(1);
  if (toHex(await keyId(name, SIG_COSIGNATURE_V1, key)) !== hexId)
    throw new Malformed(`${at}: the key ID does not match the name and key`);
  return { name, id: hexId, key };
}

/**
 * @typedef {{name: string, id: string, key: Uint8Array<ArrayBuffer>}} WitnessKey
 * @typedef {{witnesses: Map<string, WitnessKey>, quorum: string, satisfied: (have: Set<string>) => boolean}} Policy
 */

/**
 * Reads a C2SP tlog-policy: `witness <name> <vkey> [url]`, `group <name> all|any|<k> <member>…`,
 * `quorum <name>|none`; `log` lines, comments and blank lines are passed over (the log's key is the one
 * the page trusts for the log, not one the policy names). Throws naming the line.
 * @param {string} text @returns {Promise<Policy>}
 */
export async function parsePolicy(text) {
  /** @type {Map<string, WitnessKey>} */
  const witnesses = new Map();
  /** @type {Map<string, (have: Set<string>) => boolean>} */
  const rules = new Map();
  /** @type {{name: string, rule: (have: Set<string>) => boolean} | undefined} */
  let quorum;
  for (const [i, raw] of text.split("\n").entries()) {
    const at = `policy line ${i + 1}`;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [kind, ...args] = line.split(/[ \t]+/);
    /** @param {string | undefined} name */
    const fresh = (name) => {
      if (!name || name === "none" || rules.has(name))
        throw new Malformed(`${at}: a name missing or defined twice`);
      return name;
    };
    /** @param {string} name */
    const defined = (name) => {
      const rule = rules.get(name);
      if (!rule) throw new Malformed(`${at}: ${name} is not defined on an earlier line`);
      return rule;
    };
    if (kind === "log") continue;
    if (kind === "witness") {
      if (args.length < 2 || args.length > 3) throw new Malformed(`${at}: witness <name> <vkey> [url]`);
      const name = fresh(args[0]);
      witnesses.set(name, await witnessVkey(args[1] ?? "", at));
      rules.set(name, (have) => have.has(name));
    } else if (kind === "group") {
      const [n, threshold = "", ...members] = args;
      const name = fresh(n);
      if (members.length === 0 || new Set(members).size !== members.length)
        throw new Malformed(`${at}: a group lists each member once, at least one`);
      const memberRules = members.map(defined);
      const k =
        threshold === "all"
          ? members.length
          : threshold === "any"
            ? 1
            : THRESHOLD.test(threshold) && Number(threshold) <= members.length
              ? Number(threshold)
              : undefined;
      if (k === undefined) throw new Malformed(`${at}: the threshold is all, any or 1 to ${members.length}`);
      rules.set(name, (have) => memberRules.filter((r) => r(have)).length >= k);
    } else if (kind === "quorum") {
      if (quorum || args.length !== 1) throw new Malformed(`${at}: one quorum line, quorum <name>`);
      const name = args[0] ?? "";
      quorum = { name, rule: name === "none" ? () => true : defined(name) };
    } else throw new Malformed(`${at}: unknown line kind ${JSON.stringify(kind)}`);
  }
  if (!quorum) throw new Malformed("the policy has no quorum line");
  const q = quorum;
  return { witnesses, quorum: q.name, satisfied: (have) => q.rule(have) };
}

/**
 * A tlog-proof checked: `ok`, or why not; the checkpoint's size and, under a policy, each witness whose
 * cosignature verified with its time (POSIX seconds).
 * @typedef {{ok: boolean, detail: string, size?: number, cosigned: {name: string, time: number}[]}} TlogProofCheck
 */

/**
 * Checks tlog-proof `text` for leaf `index`, whose own bytes hash to `leaf`, against the log `logId`'s
 * Ed25519 key `logKey` (raw 32 bytes) and, when given, the witness policy's text.
 * @param {string} text
 * @param {{index: number, leaf: Uint8Array, logId: string, logKey: Uint8Array<ArrayBuffer>, policy?: string | undefined}} trust
 * @returns {Promise<TlogProofCheck>}
 */
export async function checkTlogProof(text, trust) {
  try {
    return await check(text, trust);
  } catch (err) {
    if (err instanceof Malformed) return { ok: false, detail: err.message, cosigned: [] };
    throw err;
  }
}

/** @param {string} text @param {Parameters<typeof checkTlogProof>[1]} trust @returns {Promise<TlogProofCheck>} */
async function check(text, trust) {
  const fail = (/** @type {string} */ detail) => ({ ok: false, detail, cosigned: [] });
  // The proof: header, optional extra, index, hashes; a blank line; the checkpoint note.
  const blank = text.indexOf("\n\n");
  if (blank < 0) throw new Malformed("the proof has no blank line before its checkpoint");
  const head = text.slice(0, blank).split("\n");
  const note = text.slice(blank + 2);
  if (head[0] !== HEADER) throw new Malformed(`the proof's first line is not ${HEADER}`);
  let i = 1;
  if (head[i]?.startsWith("extra ")) i++;
  const m = INDEX_LINE.exec(head[i] ?? "");
  if (!m) throw new Malformed(`line ${i + 1} of the proof is not "index <decimal>"`);
  if (Number(m[1]) !== trust.index) return fail(`the proof is of leaf ${m[1]}, not of leaf ${trust.index}`);
  const path = head.slice(i + 1).map((l, k) => {
    const h = base64(l, `proof line ${k + 1}`);
    if (h.length !== 32) throw new Malformed(`proof line ${k + 1} is not a 32-byte hash`);
    return h;
  });
  // The note: text up to the last blank line, then "— <name> <base64>" lines.
  if (!note.endsWith("\n")) throw new Malformed("the checkpoint does not end in a newline");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Malformed("the checkpoint has no blank line before its signatures");
  const signed = note.slice(0, split + 1);
  const signatures = note
    .slice(split + 2, -1)
    .split("\n")
    .map((line, k) => {
      const s = SIGNATURE_LINE.exec(line);
      if (!s || !KEY_NAME.test(s[1] ?? ""))
        throw new Malformed(`signature line ${k + 1} is not "— <name> <base64>"`);
      const raw = base64(s[2] ?? "", `signature line ${k + 1}`);
      if (raw.length < 5) throw new Malformed(`signature line ${k + 1} is too short`);
      return { name: s[1] ?? "", id: toHex(raw.subarray(0, 4)), sig: raw.slice(4) };
    });
  const [origin, sizeLine = "", rootLine = ""] = signed.slice(0, -1).split("\n");
  if (origin !== trust.logId)
    return fail(
      `the checkpoint is of origin ${JSON.stringify(origin)}, not of the log ${JSON.stringify(trust.logId)}`,
    );
  if (!SIZE_LINE.test(sizeLine)) throw new Malformed("the checkpoint's size line is not a decimal");
  const size = Number(sizeLine);
  const root = base64(rootLine, "the checkpoint's root hash");
  if (root.length !== 32) throw new Malformed("the checkpoint's root hash is not 32 bytes");
  const bytes = utf8(signed);
  // The log's signature: every line of its name and key ID must verify, and there must be one.
  const logId = toHex(await keyId(trust.logId, SIG_ED25519, trust.logKey));
  const mine = signatures.filter((s) => s.name === trust.logId && s.id === logId);
  if (mine.length === 0) return fail("the checkpoint carries no signature of the log's key");
  for (const s of mine)
    if (s.sig.length !== 64 || !(await ed25519(trust.logKey, s.sig, bytes)))
      return fail(`the log's signature on the checkpoint (size ${size}) does not verify`);
  const computed = await rootFromInclusion(trust.index, size, trust.leaf, path);
  if (!computed) return fail(`the inclusion path cannot belong to leaf ${trust.index} of ${size}`);
  if (!sameBytes(computed, root))
    return fail(
      `the inclusion path leads to ${toHex(computed)}, not to the checkpoint's root ${toHex(root)}`,
    );
  if (trust.policy === undefined) return { ok: true, detail: `size ${size}`, size, cosigned: [] };
  const policy = await parsePolicy(trust.policy);
  /** @type {{name: string, time: number}[]} */
  const cosigned = [];
  for (const [name, w] of policy.witnesses) {
    for (const s of signatures.filter((s) => s.name === w.name && s.id === w.id)) {
      const time = s.sig.length === 72 ? new DataView(s.sig.buffer, s.sig.byteOffset).getBigUint64(0) : -1n;
      const ok =
        time >= 0n &&
        time < 2n ** 63n &&
        (await ed25519(w.key, s.sig.slice(8), concat(utf8(`cosignature/v1\ntime ${time}\n`), bytes)));
      if (!ok) return fail(`witness ${name}'s cosignature does not verify`);
      cosigned.push({ name, time: Number(time) });
    }
  }
  const have = new Set(cosigned.map((c) => c.name));
  if (!policy.satisfied(have)) {
    const missing = [...policy.witnesses.keys()].filter((n) => !have.has(n));
    return {
      ...fail(
        `the checkpoint (size ${size}) is cosigned by ${have.size ? [...have].join(", ") : "no trusted witness"}: ` +
          `not enough for the policy's quorum ${policy.quorum} (no cosignature of ${missing.join(", ")})`,
      ),
      size,
    };
  }
  return { ok: true, detail: `size ${size}`, size, cosigned };
}
