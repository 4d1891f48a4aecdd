import { createPublicKey, type KeyObject } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { cosignatureLine, EMPTY_ROOT, parseCheckpointText, parseNote } from "../core/log-format/index.js";
import { rawEd25519 } from "../core/signing/index.js";
import { openCheckpoint, verifyConsistency } from "../verifier/index.js";

/** What a witness answers: an HTTP status, a text body, its content type. */
export interface WitnessAnswer {
  status: 200 | 400 | 403 | 404 | 409 | 422;
  body: string;
  contentType: string;
}

export interface WitnessOptions {
  /** The witness's key name (its cosignature lines carry it). */
  name: string;
  /** Ed25519: signs cosignature/v1. */
  key: KeyObject;
  /** Known logs: origin → the log's vkey. Added, never removed or re-keyed while running. */
  logs: ReadonlyMap<string, string>;
  /** The state file: the latest cosigned size and root per origin (JSON), replaced atomically. */
  statePath: string;
  /** POSIX seconds; default the clock. */
  now?: () => number;
}

export interface Witness {
  /** c2sp.org/tlog-witness add-checkpoint on a request body. */
  addCheckpoint(body: string): WitnessAnswer;
  /** The latest cosigned checkpoint of `origin` with this witness's cosignature, as served to monitors. */
  latest(origin: string): string | undefined;
}

interface LogState {
  size: number;
  /** base64 root. */
  root: string;
  /** The checkpoint as cosigned: the log's note plus our line. */
  note: string;
}

const TEXT = "text/plain; charset=utf-8";
const answer = (status: WitnessAnswer["status"], body: string, contentType = TEXT): WitnessAnswer => ({
  status,
  body: body.endsWith("\n") ? body : `${body}\n`,
  contentType,
});

/**
 * A C2SP tlog-witness (c2sp.org/tlog-witness, newest text): add-checkpoint checks the checkpoint's log
 * signature against the origin's known key, the old size against the size it last cosigned, and the
 * consistency proof with the verifier's own Merkle code; only then it persists the new size and root
 * (temp file, fsync, rename) and returns a timestamped Ed25519 cosignature/v1. Check and persist run
 * without yielding to the event loop, so two requests for one origin can never interleave (the spec's
 * roll-back race). Answers: 400 malformed, 404 unknown origin, 403 no valid log signature, 409 with
 * the latest size (text/x.tlog.size) when the old size is not it, 422 a proof that does not verify or
 * the same size with another root.
 */
export function createWitness(o: WitnessOptions): Witness {
  const raw = rawEd25519(createPublicKey(o.key));
  const now = o.now ?? (() => Math.floor(Date.now() / 1000));
  const state: Record<string, LogState> = existsSync(o.statePath)
    ? (JSON.parse(readFileSync(o.statePath, "utf8")) as Record<string, LogState>)
    : {};
  const persist = () => {
    const tmp = join(dirname(o.statePath), `.${Date.now()}-${process.pid}.witness-state.tmp`);
    const fd = openSync(tmp, "wx", 0o600);
    try {
      writeSync(fd, JSON.stringify(state));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, o.statePath);
    const dir = openSync(dirname(o.statePath), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  };

  return {
    latest: (origin) => (Object.hasOwn(state, origin) ? state[origin]?.note : undefined),
    addCheckpoint(body) {
      const blank = body.indexOf("\n\n");
      if (blank < 0) return answer(400, "no blank line before the checkpoint");
      const head = body.slice(0, blank).split("\n");
      const note = body.slice(blank + 2);
      const m = /^old (0|[1-9][0-9]{0,15})$/.exec(head[0] ?? "");
      if (!m) return answer(400, 'the first line is not "old <size>"');
      const old = Number(m[1]);
      const proofLines = head.slice(1);
      if (proofLines.length > 63) return answer(400, "more than 63 proof lines");
      const proof = proofLines.map((l) => Buffer.from(l, "base64"));
      if (proof.some((h, i) => h.length !== 32 || h.toString("base64") !== proofLines[i]))
        return answer(400, "a proof line is not a base64 hash");
      let text: string;
      let origin: string;
      try {
        text = parseNote(note).text;
        origin = parseCheckpointText(text).origin;
      } catch (err) {
        return answer(400, (err as Error).message);
      }
      const vkey = o.logs.get(origin);
      if (!vkey) return answer(404, "unknown log origin");
      const opened = openCheckpoint(note, { logVkey: vkey });
      if (!opened.ok) return answer(403, opened.problem);
      const { size, rootHash } = opened.checkpoint;
      if (old > size) return answer(400, "the old size is larger than the checkpoint's");
      const last = Object.hasOwn(state, origin) ? state[origin] : undefined;
      const lastSize = last?.size ?? 0;
      if (old !== lastSize) return answer(409, `${lastSize}`, "text/x.tlog.size");
      if (size === 0 && !rootHash.equals(EMPTY_ROOT))
        return answer(422, "a tree of size 0 has the empty root");
      if (old === 0) {
        if (proof.length > 0) return answer(422, "a proof from size 0 must be empty");
      } else if (!last || !verifyConsistency(old, size, Buffer.from(last.root, "base64"), rootHash, proof)) {
        return answer(
          422,
          old === size ? "the same size with another root" : "the consistency proof does not verify",
        );
      }
      const line = cosignatureLine(text, o.name, o.key, raw, now());
      const previous = last;
      state[origin] = { size, root: rootHash.toString("base64"), note: note + line };
      try {
        persist();
      } catch (err) {
        if (previous) state[origin] = previous;
        else delete state[origin];
        throw err;
      }
      return answer(200, line);
    },
  };
}
