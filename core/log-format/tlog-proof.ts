/**
 * C2SP tlog-proof (c2sp.org/tlog-proof): an offline proof that an entry is in a log, as text:
 * `c2sp.org/tlog-proof@v1`, an optional `extra <base64>` line, `index <n>`, the inclusion proof one
 * base64 hash a line (the leaf's sibling first, RFC 6962 §2.1.1), a blank line, then the checkpoint as
 * the log served it (with any cosignatures). Only the format here: checking is the verifier's.
 */

export const TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1";

export interface TlogProof {
  /** Opaque, unauthenticated (for us: the exchange ID, UTF-8). */
  extra?: Buffer | undefined;
  index: number;
  /** 32-byte hashes, the leaf's sibling first. */
  proof: Buffer[];
  /** The checkpoint note, verbatim. */
  checkpoint: string;
}

export function formatTlogProof(p: TlogProof): string {
  if (p.proof.some((h) => h.length !== 32)) throw new Error("an inclusion proof holds 32-byte hashes");
  return [
    TLOG_PROOF_HEADER,
    ...(p.extra ? [`extra ${p.extra.toString("base64")}`] : []),
    `index ${p.index}`,
    ...p.proof.map((h) => h.toString("base64")),
    "",
    p.checkpoint,
  ].join("\n");
}

/** Parses a tlog-proof strictly; throws naming the line that is wrong. */
export function parseTlogProof(text: string): TlogProof {
  if (text.length > 1 << 20) throw new Error("tlog-proof: larger than 1 MiB");
  const blank = text.indexOf("\n\n");
  if (blank < 0) throw new Error("tlog-proof: no blank line before the checkpoint");
  const head = text.slice(0, blank).split("\n");
  const checkpoint = text.slice(blank + 2);
  if (head[0] !== TLOG_PROOF_HEADER)
    throw new Error(`tlog-proof: the first line is not ${TLOG_PROOF_HEADER}`);
  let i = 1;
  let extra: Buffer | undefined;
  if (head[i]?.startsWith("extra ")) {
    extra = canonicalBase64(head[i]?.slice(6) ?? "", "the extra line");
    i++;
  }
  const m = /^index (0|[1-9][0-9]{0,15})$/.exec(head[i] ?? "");
  if (!m) throw new Error(`tlog-proof: line ${i + 1} is not "index <decimal>"`);
  const index = Number(m[1]);
  if (!Number.isSafeInteger(index)) throw new Error("tlog-proof: the index is too large");
  const proof = head.slice(i + 1).map((l, k) => {
    const h = canonicalBase64(l, `proof line ${k + 1}`);
    if (h.length !== 32) throw new Error(`tlog-proof: proof line ${k + 1} is not a 32-byte hash`);
    return h;
  });
  if (proof.length > 63) throw new Error("tlog-proof: more than 63 proof lines");
  return { ...(extra && { extra }), index, proof, checkpoint };
}

function canonicalBase64(s: string, what: string): Buffer {
  const b = Buffer.from(s, "base64");
  if (s === "" || b.toString("base64") !== s) throw new Error(`tlog-proof: ${what} is not base64`);
  return b;
}
