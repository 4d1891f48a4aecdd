import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../core/index.js";

/** A synthetic citizen who can sign in at the dev identity provider. */
export interface DevCitizenUser {
  readonly username: string;
  readonly password: string;
  /** The citizen ID the provider asserts in its citizen-ID claim. */
  readonly subject_id: string;
}

export interface DevIdentityProviderOptions {
  users: readonly DevCitizenUser[];
  /** The one relying party: the citizen page. */
  client: { id: string; secret: string; redirectUri: string };
  /** The claim that carries the citizen ID, asked for with the scope of the same name. */
  claim: string;
  logger: Logger;
}

export interface DevIdentityProvider {
  /** `http://localhost:PORT`: the issuer identifier and its base URL. */
  readonly issuer: string;
  close(): Promise<void>;
}

/**
 * The national digital identity's stand-in for `xbus dev`: a real OpenID provider (the `oidc-provider`
 * package: discovery, JWKS, authorization code with PKCE, signed ID tokens) whose login form knows only
 * the synthetic citizens it is given. The citizen page cannot tell it from a real issuer, which is the
 * point: the relying party's code is the one production runs.
 *
 * Loopback HTTP, as the rest of the dev stack's HTTP: the citizen page allows an http issuer only on
 * localhost. The login form is this file's own (the package's dev form takes any password).
 */
export async function startDevIdentityProvider(o: DevIdentityProviderOptions): Promise<DevIdentityProvider> {
  // Loaded here, not at the top: only a stack with the citizen page needs it. It prints straight to the
  // console when loaded ("unsupported runtime" on Node 20, which it runs on) and when built (its in-memory
  // store, right for dev): those lines go to the stack's log at debug instead, so `xbus dev` stays quiet.
  const { Provider } = await consoleToLog(o.logger, () => import("oidc-provider"));
  const byName = new Map(o.users.map((u) => [u.username, u]));
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://localhost:${(server.address() as AddressInfo).port}`;
  const signingKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  const provider = await consoleToLog(
    o.logger,
    async () =>
      new Provider(issuer, {
        clients: [
          {
            client_id: o.client.id,
            client_secret: o.client.secret,
            redirect_uris: [o.client.redirectUri],
            response_types: ["code"],
            grant_types: ["authorization_code"],
          },
        ],
        jwks: { keys: [{ ...signingKey, kid: "dev-1", use: "sig", alg: "RS256" }] },
        cookies: { keys: [randomBytes(32).toString("base64url")] },
        pkce: { required: () => true },
        features: { devInteractions: { enabled: false } },
        scopes: ["openid", o.claim],
        claims: { openid: ["sub"], [o.claim]: [o.claim] },
        // The claim in the ID token itself, so the relying party needs no userinfo call.
        conformIdTokenClaims: false,
        findAccount: (_ctx, sub) => {
          const user = byName.get(sub);
          return user && { accountId: sub, claims: () => ({ sub, [o.claim]: user.subject_id }) };
        },
        // The citizen page is the federation's own first-party client: signing in is the consent.
        loadExistingGrant: async (ctx) => {
          const session = ctx.oidc.session;
          const client = ctx.oidc.client;
          if (!session?.accountId || !client) return undefined;
          const existing = session.grantIdFor(client.clientId);
          if (existing) return ctx.oidc.provider.Grant.find(existing);
          const grant = new ctx.oidc.provider.Grant({
            clientId: client.clientId,
            accountId: session.accountId,
          });
          grant.addOIDCScope(`openid ${o.claim}`);
          grant.addOIDCClaims(["sub", o.claim]);
          await grant.save();
          session.grantIdFor(client.clientId, grant.jti);
          return grant;
        },
        // Short lives, said outright (the package warns of each default it falls back to).
        ttl: {
          Interaction: 600,
          Session: 1800,
          Grant: 1800,
          AccessToken: 300,
          IdToken: 300,
          AuthorizationCode: 60,
        },
        interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
        renderError: (ctx, out) => {
          ctx.type = "text/plain; charset=utf-8";
          ctx.body = `sign-in failed: ${out.error}${out.error_description ? `: ${out.error_description}` : ""}`;
        },
      }),
  );
  const callback = provider.callback();
  const redirectOrigin = new URL(o.client.redirectUri).origin;

  const loginPage = (res: ServerResponse, uid: string, status: number, message = "") => {
    res.writeHead(status, {
      "content-type": "text/html; charset=utf-8",
      // The form posts here; the provider then redirects to the citizen page, which form-action covers too.
      "content-security-policy": `default-src 'none'; form-action 'self' ${redirectOrigin}; frame-ancestors 'none'`,
      "cache-control": "no-store",
    });
    res.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in (dev identity provider)</title></head>` +
        `<body><h1>Sign in</h1><p>Development stand-in for the national digital identity.</p>` +
        (message ? `<p id="login-error" role="alert">${message}</p>` : "") +
        `<form method="post" action="/interaction/${uid}/login">` +
        `<label for="username">Username</label> <input id="username" name="username" autocomplete="username" required>` +
        `<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required>` +
        `<button type="submit">Sign in</button></form></body></html>`,
    );
  };
  const interaction = async (req: IncomingMessage, res: ServerResponse, path: string) => {
    const m = /^\/interaction\/([A-Za-z0-9_-]{1,64})(\/login)?$/.exec(path);
    if (!m?.[1]) return false;
    const uid = m[1];
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error("interaction does not match its cookie");
    if (req.method === "GET" && !m[2]) {
      loginPage(res, uid, 200);
      return true;
    }
    if (req.method !== "POST" || !m[2]) return false;
    const form = new URLSearchParams(await readBody(req, 4096));
    const user = byName.get(form.get("username") ?? "");
    if (!user || !samePassword(user.password, form.get("password") ?? "")) {
      loginPage(res, uid, 401, "Unknown username or wrong password.");
      return true;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: user.username } },
      { mergeWithLastSubmission: false },
    );
    return true;
  };
  server.on("request", (req, res) => {
    const path = new URL(req.url ?? "/", issuer).pathname;
    interaction(req, res, path)
      .then((handled) => {
        if (!handled) callback(req, res);
      })
      .catch((err: unknown) => {
        if (res.headersSent) {
          res.end();
          return;
        }
        res.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
        res.end(`sign-in failed: ${err instanceof Error ? err.message : String(err)}`);
      });
  });
  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Runs `fn` with console.warn and console.info written to `logger` at debug, then puts them back. */
async function consoleToLog<T>(logger: Logger, fn: () => Promise<T>): Promise<T> {
  const { warn, info } = console;
  const toLog = (...args: unknown[]) =>
    logger.debug({ component: "citizen-idp" }, args.map(String).join(" "));
  console.warn = toLog;
  console.info = toLog;
  try {
    return await fn();
  } finally {
    console.warn = warn;
    console.info = info;
  }
}

/** Compares digests, so the time taken says nothing about how much of the password matched. */
function samePassword(expected: string, given: string): boolean {
  const a = createHash("sha256").update(expected).digest();
  const b = createHash("sha256").update(given).digest();
  return timingSafeEqual(a, b);
}

async function readBody(req: IncomingMessage, max: number): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new Error(`the form is larger than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
