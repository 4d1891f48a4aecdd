import { createHash, type KeyObject, timingSafeEqual } from "node:crypto";
import { toJson } from "@bufbuild/protobuf";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { UUID_PATTERN } from "../../core/index.js";
import { leafHash } from "../../core/log-format/index.js";
import { rawEd25519 } from "../../core/signing/index.js";
import { PROMETHEUS_CONTENT_TYPE } from "../../core/telemetry/index.js";
import { type ExchangeRecord, ExchangeRecordSchema } from "../../proto/gen/xbus/v1/log_pb.js";
import type { IndexedEntry, LogIndexReader } from "../indexer/log-index.js";
import { ProofRangeError } from "../indexer/merkle-store.js";
import { subjectRef } from "../log/subject-ref.js";
import {
  ALERT_RULES,
  type AlertOptions,
  type AlertRule,
  type AlertsJson,
  alertRulesJson,
  computeAlerts,
  resolveAlertOptions,
} from "./alerts.js";
import { loadUiAssets } from "./ui-assets.js";

export interface ReviewOptions {
  /** Read only: the review API never writes the index (a LogIndex, the writer, is one too). */
  index: LogIndexReader;
  /** Public half of the Ed25519 key that signs tree heads. */
  logPublicKey: KeyObject;
  /** Lowercase hex SHA-256 of each accepted bearer token; the tokens themselves are never stored. */
  tokenHashes: readonly string[];
  /** To turn a citizen ID in a query into its subject reference. */
  logSecret: Uint8Array;
  subjectIdPattern: RegExp;
  /** Readiness checks beyond the index itself (NATS, stream, lag). */
  ready?: () => Promise<Record<string, { ok: boolean; detail?: string }>>;
  /** Prometheus text for `GET /metrics` (no token: scrapers hold none; it carries no citizen data). */
  metrics?: () => Promise<string>;
  /**
   * Link from an exchange to its trace in the operator's tracing UI:
   * `{trace_id}` is replaced, e.g. `http://jaeger:16686/trace/{trace_id}`.
   */
  traceUrlTemplate?: string;
  /** Thresholds of `GET /v1/alerts` (README, "Alerts"); defaults when absent. */
  alerts?: AlertOptions;
}

const MAX_LIMIT = 1000;
const DECISIONS = new Set(["allow", "deny", "invalid", "error"]);
/** What each route takes; any other query parameter is a 400 naming it (see onlyParams). */
const NO_PARAMS = [] as const;
const INCLUSION_PARAMS = ["index", "tree_size"] as const;
const CONSISTENCY_PARAMS = ["first", "second"] as const;
const ENTRIES_PARAMS = ["start", "limit"] as const;
const ALERT_PARAMS = ["from", "to", "rule"] as const;
const ACCESS_PARAMS = ["from", "to", "cursor", "limit"] as const;
const EXCHANGE_PARAMS = [
  "consumer",
  "service",
  "subject",
  "purpose",
  "decision",
  "from",
  "to",
  "cursor",
  "limit",
] as const;
const DEFAULT_ACCESS_LIMIT = 100;
const DEFAULT_ENTRIES_LIMIT = 100;
const DEFAULT_EXCHANGE_LIMIT = 50;
const DEFAULT_ALERT_WINDOW_MS = 24 * 3600_000;

/**
 * The review UI's page carries no inline script or style, so it can forbid both: data shown on it can
 * never run as code, and it talks to no origin but this one.
 */
export const UI_CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const UI_HEADERS = {
  "content-security-policy": UI_CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/** The security team's HTTP API over the exchange log (README, "Review API"). */
export function createReviewApp(o: ReviewOptions): Hono {
  const app = new Hono();
  const publicKey = rawEd25519(o.logPublicKey).toString("base64");
  const tokenHashes = o.tokenHashes.map((h) => Buffer.from(h, "hex"));
  const alerts = resolveAlertOptions(o.alerts);
  const ui = loadUiAssets();

  app.onError((err, c) => {
    if (err instanceof HTTPException)
      return c.json({ error: { status: err.status, message: err.message } }, err.status);
    // Only a proof asked for outside the tree: any other RangeError (a stack overflow, say) is a bug.
    if (err instanceof ProofRangeError) return c.json({ error: { status: 400, message: err.message } }, 400);
    return c.json({ error: { status: 500, message: "internal error" } }, 500);
  });
  app.notFound((c) => c.json({ error: { status: 404, message: "no such route" } }, 404));

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const checks = {
      index: { ok: true, detail: `tree_size ${o.index.treeSize}` },
      ...((await o.ready?.()) ?? {}),
    };
    const ok = Object.values(checks).every((x) => x.ok);
    return c.json({ ready: ok, checks }, ok ? 200 : 503);
  });

  // The UI's files hold no data, so they need no token; every data call from the page goes to /v1/*.
  const uiFile = (body: string, type: string) => () =>
    new Response(body, { status: 200, headers: { ...UI_HEADERS, "content-type": type } });
  app.get("/ui", uiFile(ui.html, "text/html; charset=utf-8"));
  app.get("/ui/", uiFile(ui.html, "text/html; charset=utf-8"));
  app.get("/ui/app.js", uiFile(ui.js, "text/javascript; charset=utf-8"));
  app.get("/ui/merkle.js", uiFile(ui.merkleJs, "text/javascript; charset=utf-8"));
  app.get("/ui/app.css", uiFile(ui.css, "text/css; charset=utf-8"));
  // Browsers ask for it by themselves; "no icon" is an answer, where a 404 shows as an error in the console.
  app.get("/favicon.ico", () => new Response(null, { status: 204, headers: UI_HEADERS }));

  const metrics = o.metrics;
  if (metrics) {
    app.get("/metrics", async (c) =>
      c.body(await metrics(), 200, { "content-type": PROMETHEUS_CONTENT_TYPE }),
    );
  }

  app.use("/v1/*", async (c, next) => {
    const header = c.req.header("authorization");
    const token = /^Bearer ([A-Za-z0-9._~+/=-]{16,256})$/.exec(header ?? "")?.[1];
    const digest = token ? createHash("sha256").update(token).digest() : undefined;
    if (!digest || !tokenHashes.some((h) => h.length === digest.length && timingSafeEqual(h, digest))) {
      c.header("WWW-Authenticate", 'Bearer realm="xbus-review"');
      // Which of the three it was tells a caller nothing about the tokens the server accepts.
      throw new HTTPException(401, {
        message:
          header === undefined
            ? "a reviewer bearer token is required (Authorization: Bearer TOKEN)"
            : token === undefined
              ? "the Authorization header must be Bearer TOKEN, the token 16 to 256 characters of A-Z a-z 0-9 . _ ~ + / = -"
              : "this bearer token is not a reviewer's",
      });
    }
    await next();
  });

  // Every route refuses a parameter it does not take, or one given twice: a client that misspells
  // `tree_size` or repeats `index` must get a 400, not a proof of something it did not ask for.
  app.get("/v1/log/tree-head", (c) => {
    onlyParams(c.req.queries(), NO_PARAMS);
    const head = o.index.latestTreeHead();
    if (!head) throw new HTTPException(503, { message: "no tree head signed yet" });
    return c.json({
      log_id: head.logId,
      tree_size: head.treeSize,
      root_hash: head.rootHash,
      timestamp: head.timestamp,
      signature: head.signature,
      public_key: publicKey,
    });
  });

  app.get("/v1/log/proof/inclusion", (c) => {
    onlyParams(c.req.queries(), INCLUSION_PARAMS);
    const index = intParam(c.req.query("index"), "index");
    const treeSize = intParam(c.req.query("tree_size"), "tree_size");
    withinLog(treeSize, "tree_size", o.index.treeSize);
    if (index >= treeSize)
      throw new HTTPException(400, {
        message: `index must be below tree_size (${treeSize}), got ${index}`,
      });
    const path = o.index.tree.inclusionProof(index, treeSize);
    return c.json({
      index,
      tree_size: treeSize,
      leaf_hash: o.index.tree.leafHash(index).toString("hex"),
      audit_path: path.map((h) => h.toString("hex")),
    });
  });

  app.get("/v1/log/proof/consistency", (c) => {
    onlyParams(c.req.queries(), CONSISTENCY_PARAMS);
    const first = intParam(c.req.query("first"), "first");
    const second = intParam(c.req.query("second"), "second");
    withinLog(second, "second", o.index.treeSize);
    // RFC 9162 §2.1.4 defines a proof for 0 < first ≤ second: every tree extends the empty one.
    if (first < 1 || first > second)
      throw new HTTPException(400, {
        message: `first must be 1 to second (${second}), got ${first}`,
      });
    return c.json({
      first,
      second,
      proof: o.index.tree.consistencyProof(first, second).map((h) => h.toString("hex")),
    });
  });

  app.get("/v1/log/entries", (c) => {
    onlyParams(c.req.queries(), ENTRIES_PARAMS);
    const start = intParam(c.req.query("start") ?? "0", "start");
    const limit = limitParam(c.req.query("limit"), DEFAULT_ENTRIES_LIMIT);
    // start = size is the empty page a follower polls at; past it, the client has the wrong log or size.
    withinLog(start, "start", o.index.treeSize);
    return c.json({
      entries: o.index.entries(start, limit).map((e) => ({
        index: e.index,
        leaf: e.leaf.toString("base64"),
        leaf_hash: o.index.tree.leafHash(e.index).toString("hex"),
        record: e.record ? recordJson(e.record) : null,
      })),
    });
  });

  app.get("/v1/exchanges", (c) => {
    // A misspelt filter (`consumr=`) must not answer as if there were none: for a reviewer that is
    // a wrong answer, so every parameter outside this list is a 400.
    onlyParams(c.req.queries(), EXCHANGE_PARAMS);
    const decision = c.req.query("decision");
    if (decision !== undefined && !DECISIONS.has(decision)) {
      throw new HTTPException(400, { message: "decision must be one of allow, deny, invalid, error" });
    }
    const subject = c.req.query("subject");
    if (subject !== undefined && !o.subjectIdPattern.test(subject))
      throw new HTTPException(400, { message: "subject is not a citizen ID" });
    const consumer = c.req.query("consumer");
    const service = c.req.query("service");
    const purpose = c.req.query("purpose");
    const from = c.req.query("from");
    const to = c.req.query("to");
    const cursor = c.req.query("cursor");
    const limit = limitParam(c.req.query("limit"), DEFAULT_EXCHANGE_LIMIT);
    const { rows, nextCursor } = onePage(limit, (n) =>
      o.index.exchanges({
        ...(consumer !== undefined && { consumer }),
        ...(service !== undefined && { service }),
        ...(purpose !== undefined && { purpose }),
        ...(decision !== undefined && { decision: decision as "allow" }),
        ...(subject !== undefined && { subjectRef: subjectRef(o.logSecret, subject) }),
        ...(from !== undefined && { from: timeParam(from, "from") }),
        ...(to !== undefined && { to: timeParam(to, "to") }),
        ...(cursor !== undefined && { before: intParam(cursor, "cursor") }),
        limit: n,
      }),
    );
    return c.json({ exchanges: rows.map(entryJson), next_cursor: nextCursor });
  });

  app.get("/v1/exchanges/:id", (c) => {
    onlyParams(c.req.queries(), NO_PARAMS);
    const id = c.req.param("id");
    if (!UUID_PATTERN.test(id)) throw new HTTPException(400, { message: "exchange id must be a UUID" });
    const e = o.index.exchange(id);
    if (!e)
      throw new HTTPException(404, {
        message: "no exchange with this id in the log (it may not be indexed yet)",
      });
    const head = o.index.latestTreeHead();
    const treeSize = head && head.treeSize > e.index ? head.treeSize : o.index.treeSize;
    const traceId = e.record?.traceId ?? "";
    return c.json({
      ...entryJson(e),
      trace_url:
        o.traceUrlTemplate && /^[0-9a-f]{32}$/.test(traceId)
          ? o.traceUrlTemplate.replaceAll("{trace_id}", traceId)
          : null,
      leaf_hash: leafHash(e.leaf).toString("hex"),
      inclusion: {
        tree_size: treeSize,
        audit_path: o.index.tree.inclusionProof(e.index, treeSize).map((h) => h.toString("hex")),
        root_hash: o.index.tree.root(treeSize).toString("hex"),
      },
    });
  });

  app.get("/v1/subjects/:subjectId/accesses", (c) => {
    const id = c.req.param("subjectId");
    if (!o.subjectIdPattern.test(id))
      throw new HTTPException(400, { message: "subjectId is not a citizen ID" });
    onlyParams(c.req.queries(), ACCESS_PARAMS);
    const from = c.req.query("from");
    const to = c.req.query("to");
    const cursor = c.req.query("cursor");
    const limit = limitParam(c.req.query("limit"), DEFAULT_ACCESS_LIMIT);
    const { rows, nextCursor } = onePage(limit, (n) =>
      o.index.exchanges({
        subjectRef: subjectRef(o.logSecret, id),
        ...(from !== undefined && { from: timeParam(from, "from") }),
        ...(to !== undefined && { to: timeParam(to, "to") }),
        ...(cursor !== undefined && { before: intParam(cursor, "cursor") }),
        limit: n,
      }),
    );
    return c.json({
      accesses: rows.flatMap((e) =>
        e.record
          ? [
              {
                time: Number(e.record.time),
                consumer: e.record.consumer,
                service: e.record.service,
                purpose: e.record.purpose,
                decision: recordJson(e.record).decision,
                status: e.record.status,
                fields_released: e.record.fieldsReleased,
                exchange_id: e.record.exchangeId,
              },
            ]
          : [],
      ),
      next_cursor: nextCursor,
    });
  });

  app.get("/v1/alerts", (c) => {
    onlyParams(c.req.queries(), ALERT_PARAMS);
    const rule = c.req.query("rule");
    if (rule !== undefined && !ALERT_RULES.includes(rule as AlertRule))
      throw new HTTPException(400, { message: `rule must be one of ${ALERT_RULES.join(", ")}` });
    const enabled = alertRulesJson(alerts);
    if (rule !== undefined && !(rule in enabled))
      throw new HTTPException(400, { message: `rule ${rule} is turned off on this server` });
    const fromQ = c.req.query("from");
    const toQ = c.req.query("to");
    const to = toQ === undefined ? Date.now() : timeParam(toQ, "to");
    const from = fromQ === undefined ? to - DEFAULT_ALERT_WINDOW_MS : timeParam(fromQ, "from");
    if (from >= to) throw new HTTPException(400, { message: "from must be before to" });
    if (to - from > alerts.maxWindowMs)
      throw new HTTPException(400, {
        message: `from: the window from..to may span at most ${alerts.maxWindowMs / 86_400_000} days`,
      });
    // A bounded scan: past maxScan exchanges, the answer covers [from, scanned_to) and says so.
    const stop = o.index.timeAfter(from, to, alerts.maxScan);
    const scannedTo = stop ?? to;
    const found = computeAlerts(
      o.index.exchangeFacts(from, scannedTo, alerts.maxScan),
      alerts,
      new Set(rule === undefined ? ALERT_RULES : [rule as AlertRule]),
    );
    const body: AlertsJson = {
      from,
      to,
      complete: stop === undefined,
      scanned_to: scannedTo,
      rules: enabled,
      alerts: found,
    };
    return c.json(body);
  });

  return app;
}

function entryJson(e: IndexedEntry) {
  return { index: e.index, record: e.record ? recordJson(e.record) : null };
}

/** Proto JSON with proto field names; time as a number of milliseconds, decision as a short word. */
export function recordJson(r: ExchangeRecord): Record<string, unknown> {
  const json = toJson(ExchangeRecordSchema, r, {
    useProtoFieldName: true,
    alwaysEmitImplicit: true,
  }) as Record<string, unknown>;
  json.time = Number(r.time);
  json.decision = String(json.decision ?? "")
    .replace(/^DECISION_/, "")
    .toLowerCase();
  return json;
}

function intParam(value: string | undefined, name: string): number {
  if (value === undefined) throw new HTTPException(400, { message: `${name} is required` });
  if (!/^[0-9]{1,15}$/.test(value)) {
    throw new HTTPException(400, { message: `${name} must be a non-negative integer` });
  }
  return Number(value);
}

/** A size or position in the log: past the log's size `size` now, it is a 400 naming `name`. */
function withinLog(value: number, name: string, size: number): void {
  if (value > size)
    throw new HTTPException(400, {
      message: `${name} must be at most the log's size, ${size}, got ${value}`,
    });
}

/** A page size: 1 to MAX_LIMIT, refused outside rather than capped, so a client never reads a short page as the end. */
function limitParam(value: string | undefined, byDefault: number): number {
  const limit = value === undefined ? byDefault : intParam(value, "limit");
  if (limit < 1 || limit > MAX_LIMIT)
    throw new HTTPException(400, { message: `limit must be 1 to ${MAX_LIMIT}` });
  return limit;
}

/**
 * One page of `limit` rows, newest first, from `read(n)` (at most n rows below the cursor). It reads one
 * row past the page to tell whether another page follows, so the last page says so itself
 * (`next_cursor` null) instead of leaving the client to fetch an empty one.
 */
function onePage(
  limit: number,
  read: (n: number) => IndexedEntry[],
): { rows: IndexedEntry[]; nextCursor: string | null } {
  const found = read(limit + 1);
  const rows = found.slice(0, limit);
  const last = rows.at(-1);
  return { rows, nextCursor: found.length > limit && last ? String(last.index) : null };
}

/**
 * A date, or a date and time with its zone: `2026-11-27`, `2026-11-27T10:00:00Z`, `…T10:00:00.5+06:00`.
 * Hours, minutes and seconds are checked here; whether the day exists is checked after parsing.
 */
const ISO_TIME =
  /^(\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01]))(?:T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d))?$/;

/**
 * Milliseconds since the epoch, or ISO 8601 that names one instant: a time without a zone would be
 * read in the server's local time, so the same query would mean different things on different servers.
 * A date alone is midnight UTC, as ECMAScript defines it.
 */
function timeParam(value: string, name: string): number {
  if (/^[0-9]{1,15}$/.test(value)) return Number(value);
  const date = ISO_TIME.exec(value)?.[1];
  const t = date !== undefined && dayExists(date) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(t))
    throw new HTTPException(400, {
      message: `${name} must be milliseconds since the epoch or an ISO 8601 time with a zone (Z or ±hh:mm), got ${JSON.stringify(value.slice(0, 64))}`,
    });
  return t;
}

/** Date.parse rolls 2026-02-30 over to 2 March instead of refusing it. */
function dayExists(date: string): boolean {
  const t = Date.parse(date);
  return !Number.isNaN(t) && new Date(t).toISOString().startsWith(`${date}T`);
}

/** Refuses a query parameter not in `allowed` (named in the answer), given twice, empty or over 256 characters. */
function onlyParams(query: Record<string, string[]>, allowed: readonly string[]): void {
  for (const [k, values] of Object.entries(query)) {
    if (!allowed.includes(k))
      throw new HTTPException(400, {
        message: `unknown query parameter ${JSON.stringify(k.slice(0, 64))} (${allowed.length ? allowed.join(", ") : "this route takes none"})`,
      });
    if (values.length !== 1) throw new HTTPException(400, { message: `${k} must be given once` });
    const v = values[0] ?? "";
    if (v.length === 0 || v.length > 256)
      throw new HTTPException(400, { message: `${k} must be 1 to 256 characters` });
  }
}
