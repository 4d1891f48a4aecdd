import type { KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Hono } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { createLogger, type Logger } from "../../core/index.js";
import { rawEd25519 } from "../../core/signing/index.js";
import type { LogIndexReader } from "../indexer/log-index.js";
import { subjectRef } from "../log/subject-ref.js";
import { httpError, noSuchRoute, reviewErrorHandler } from "../review/http-errors.js";
import { uiDirCandidates } from "../review/ui-assets.js";
import { type AccessRow, accessRow, disclosed, MAX_ROWS, type PurposeText } from "./access-rows.js";
import type { NotifyStore } from "./notify-store.js";
import type { OidcSignIn, PendingSignIn } from "./oidc-sign-in.js";
import { ExpiringStore } from "./sessions.js";

export interface CitizenAppOptions {
  index: LogIndexReader;
  logPublicKey: KeyObject;
  logSecret: Uint8Array;
  subjectIdPattern: RegExp;
  /** The purposes of the policy bundle in force, for their legal basis. */
  purposes: () => ReadonlyMap<string, PurposeText>;
  signIn: OidcSignIn;
  /** Signs the session cookies (at least 32 bytes). */
  cookieSecret: string;
  /** Mark cookies Secure: the page is served over TLS. */
  secure: boolean;
  logger?: Logger;
  /**
   * The clock delayed disclosure is judged by (ms since the epoch); default Date.now. Tests move it
   * past an embargo's end to see the exchange appear.
   */
  now?: () => number;
  /**
   * Citizens who asked their portal to tell them of new accesses (notifier.ts); absent when no portal
   * is configured to be told, and the page offers no such choice.
   */
  notifications?: NotifyStore;
}

const SESSION = "xbus_citizen";
const SIGN_IN = "xbus_citizen_sign_in";
const SESSION_MS = 30 * 60_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The citizen page only loads its own files and talks to its own origin; sign-out is its one form. */
export const CITIZEN_CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const HEADERS = {
  "content-security-policy": CITIZEN_CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};
/** The page's files: its own, and the review UI's hashing and signature modules, the same code reviewers run. */
const OWN_FILES = ["index.html", "citizen.css", "citizen.js", "strings.js"] as const;
const SHARED_FILES = ["merkle.js", "signature.js", "base64.js"] as const;

/**
 * "Who read my data" (issue 21): a citizen signs in with OpenID Connect and sees every exchange about
 * them, denied ones too, each with its inclusion proof against the signed tree head. Every data route
 * reads the subject from the session and from nowhere else: no route takes a citizen ID, so none can be
 * pointed at another citizen's rows.
 */
export function createCitizenApp(o: CitizenAppOptions): Hono {
  if (o.cookieSecret.length < 32)
    throw new Error("citizen page: the cookie secret must be at least 32 characters");
  const files = loadFiles();
  const sessions = new ExpiringStore<{ subjectId: string }>(SESSION_MS, 100_000);
  const pending = new ExpiringStore<PendingSignIn>(10 * 60_000, 100_000);
  const publicKey = rawEd25519(o.logPublicKey).toString("base64");
  const cookie = (path: string, maxAge: number) =>
    ({ path, httpOnly: true, secure: o.secure, sameSite: "Lax", maxAge }) as const;

  const treeHead = () => {
    const head = o.index.latestTreeHead();
    if (!head) throw httpError(503, "no tree head signed yet");
    return {
      log_id: head.logId,
      tree_size: head.treeSize,
      root_hash: head.rootHash,
      timestamp: head.timestamp,
      signature: head.signature,
      public_key: publicKey,
    };
  };
  const now = o.now ?? Date.now;
  const rowsOf = (subjectId: string): AccessRow[] => {
    const purposes = o.purposes();
    const at = now();
    return (
      o.index
        // One past the bound, so `truncated` is said only when there are more. An embargoed exchange
        // is left out by the query, and checked again on its decoded record.
        .exchanges({ subjectRef: subjectRef(o.logSecret, subjectId), visibleAt: at, limit: MAX_ROWS + 1 })
        .flatMap((e) => (e.record && disclosed(e.record, at) ? (accessRow(o.index, e, purposes) ?? []) : []))
    );
  };
  const proofOf = (row: AccessRow, size: number) =>
    row.index < size
      ? {
          index: row.index,
          tree_size: size,
          leaf: o.index.exchange(row.exchange_id)?.leaf.toString("base64") ?? null,
          leaf_hash: row.leaf_hash,
          audit_path: o.index.tree.inclusionProof(row.index, size).map((h) => h.toString("hex")),
        }
      : null;

  const file = (body: string, type: string) => () =>
    new Response(body, { status: 200, headers: { ...HEADERS, "content-type": type } });
  const app = new Hono<{ Variables: { subjectId: string } }>()
    .onError(reviewErrorHandler(o.logger ?? createLogger({ component: "citizen" })))
    .notFound(noSuchRoute)
    // Sign-out is a form post: refused unless it comes from this origin.
    .use(csrf())
    .get("/", (c) => c.redirect("/citizen/"))
    .get("/citizen/", file(files.get("index.html") ?? "", "text/html; charset=utf-8"))
    .get("/citizen/ui/citizen.css", file(files.get("citizen.css") ?? "", "text/css; charset=utf-8"))
    .get("/favicon.ico", () => new Response(null, { status: 204, headers: HEADERS }))
    .get("/citizen/login", async (c) => {
      const { url, pending: p } = await o.signIn.begin();
      await setSignedCookie(c, SIGN_IN, pending.add(p), o.cookieSecret, cookie("/citizen/callback", 600));
      return c.redirect(url.href);
    })
    .get("/citizen/callback", async (c) => {
      const id = (await getSignedCookie(c, o.cookieSecret, SIGN_IN)) || undefined;
      const p = pending.take(id);
      deleteCookie(c, SIGN_IN, { path: "/citizen/callback" });
      if (!p)
        throw httpError(
          400,
          "no sign-in under way in this browser (or it expired): start again at /citizen/login",
        );
      let subjectId: string;
      try {
        subjectId = await o.signIn.finish(new URL(c.req.url), p);
      } catch (err) {
        throw httpError(401, `sign-in was refused: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (!o.subjectIdPattern.test(subjectId))
        throw httpError(401, "the identity provider's citizen ID is not of this trust domain's form");
      await setSignedCookie(
        c,
        SESSION,
        sessions.add({ subjectId }),
        o.cookieSecret,
        cookie("/citizen", SESSION_MS / 1000),
      );
      return c.redirect("/citizen/");
    })
    // Whether to show the sign-in link, asked before any data: a 200 either way, not a 401 in the console.
    .get("/citizen/session", async (c) => {
      c.header("cache-control", "no-store");
      const s = sessions.get((await getSignedCookie(c, o.cookieSecret, SESSION)) || undefined);
      return c.json({ signed_in: s !== undefined });
    })
    .post("/citizen/logout", async (c) => {
      sessions.delete((await getSignedCookie(c, o.cookieSecret, SESSION)) || undefined);
      deleteCookie(c, SESSION, { path: "/citizen" });
      return c.redirect("/citizen/", 303);
    })
    .use("/citizen/api/*", async (c, next) => {
      const s = sessions.get((await getSignedCookie(c, o.cookieSecret, SESSION)) || undefined);
      if (!s) throw httpError(401, "not signed in: sign in at /citizen/login");
      c.set("subjectId", s.subjectId);
      c.header("cache-control", "no-store");
      await next();
    })
    .get("/citizen/api/accesses", (c) => {
      if (new URL(c.req.url).search !== "") throw httpError(400, "this API takes no query parameters");
      const rows = rowsOf(c.get("subjectId"));
      return c.json({
        subject_id: c.get("subjectId"),
        accesses: rows.slice(0, MAX_ROWS),
        truncated: rows.length > MAX_ROWS,
        tree_head: treeHead(),
      });
    })
    .get("/citizen/api/accesses/:exchangeId/proof", (c) => {
      const exchangeId = c.req.param("exchangeId");
      if (!UUID.test(exchangeId)) throw httpError(400, "exchangeId must be a lowercase UUID");
      const head = treeHead();
      // Another citizen's exchange and no exchange at all get the same answer.
      const row = rowsOf(c.get("subjectId")).find((r) => r.exchange_id === exchangeId);
      if (!row) throw httpError(404, "no exchange of that id about you");
      const proof = proofOf(row, head.tree_size);
      if (!proof)
        throw httpError(409, "this exchange is not yet in a signed tree head: try again in a few seconds");
      return c.json({ ...proof, tree_head: head });
    })
    .get("/citizen/api/notifications", (c) => {
      const ref = subjectRef(o.logSecret, c.get("subjectId"));
      return c.json({
        available: o.notifications !== undefined,
        enabled: o.notifications?.enabled(ref) ?? false,
      });
    })
    // JSON only: a form from another site cannot send it, and a script there would need CORS, which is never granted.
    .put("/citizen/api/notifications", async (c) => {
      if (!o.notifications) throw httpError(404, "no portal is configured to tell citizens of new accesses");
      if (c.req.header("content-type")?.split(";")[0]?.trim() !== "application/json")
        throw httpError(415, 'send {"enabled": true|false} as application/json');
      const body: unknown = await c.req.json().catch(() => undefined);
      const enabled = (body as { enabled?: unknown } | undefined)?.enabled;
      if (typeof enabled !== "boolean") throw httpError(400, "enabled must be true or false");
      o.notifications.set(subjectRef(o.logSecret, c.get("subjectId")), enabled, now());
      return c.json({ available: true, enabled });
    })
    .get("/citizen/api/export", (c) => {
      const head = treeHead();
      const rows = rowsOf(c.get("subjectId"));
      c.header("content-disposition", 'attachment; filename="who-read-my-data.json"');
      return c.json({
        subject_id: c.get("subjectId"),
        exported_at: Date.now(),
        tree_head: head,
        accesses: rows.slice(0, MAX_ROWS).map((r) => ({ ...r, inclusion: proofOf(r, head.tree_size) })),
        truncated: rows.length > MAX_ROWS,
      });
    });
  const js = (name: string) => file(files.get(name) ?? "", "text/javascript; charset=utf-8");
  for (const name of ["citizen.js", "strings.js"]) app.get(`/citizen/ui/${name}`, js(name));
  // At the path that citizen.js imports them by (../../review/ui/), as the files sit in the sources.
  for (const name of SHARED_FILES) app.get(`/review/ui/${name}`, js(name));
  return app as unknown as Hono;
}

/** The page's files, read once at start: a missing one stops the process with its path. */
function loadFiles(): Map<string, string> {
  const own = [
    join(import.meta.dirname, "ui"),
    resolve(import.meta.dirname, "..", "..", "..", "broker", "citizen", "ui"),
  ];
  const read = (dirs: string[], names: readonly string[]) => {
    const dir = dirs.find((d) => existsSync(join(d, names[0] ?? "")));
    if (!dir) throw new Error(`citizen page: ${names[0]} not found in ${dirs.join(" or ")}`);
    return names.map((n) => [n, readFileSync(join(dir, n), "utf8")] as const);
  };
  return new Map([...read(own, OWN_FILES), ...read(uiDirCandidates(), SHARED_FILES)]);
}
