import { type KeyObject, randomBytes } from "node:crypto";
import { Hono } from "hono";
import { renewalApplicant, scholarshipApplicant } from "../adapters/examples/journeys/applicants.js";
import type { Population } from "../adapters/examples/population.js";
import {
  createCitizenApp,
  createOidcSignIn,
  DEFAULT_SUBJECT_ID_PATTERN,
  type LogIndexReader,
  type NotifyStore,
  serveReview,
} from "../broker/index.js";
import type { Logger } from "../core/index.js";
import type { PolicySource } from "../policies/index.js";
import { type DevCitizenUser, startDevIdentityProvider } from "./citizen-idp.js";

/** The claim the dev identity provider puts the citizen ID in (a real issuer's name for it is configured). */
export const DEV_CITIZEN_CLAIM = "citizen_id";

/** What dev.json says of the citizen page: where it is, its issuer, and who can sign in. */
export interface CitizenPageJson {
  url: string;
  issuer: string;
  users: DevCitizenUser[];
}

export interface CitizenPage extends CitizenPageJson {
  close(): Promise<void>;
}

/**
 * Three synthetic citizens of the population: the scholarship journey's applicant and the licence
 * renewal's holder (so the page of each shows what the journeys did), and one nobody asked about.
 */
export function devCitizenUsers(population: Population): DevCitizenUser[] {
  const ids = [scholarshipApplicant(population), renewalApplicant(population)].filter(
    (id): id is string => id !== undefined,
  );
  const other = population.citizens.find((c) => !ids.includes(c.id))?.id;
  return [...new Set([...ids, ...(other ? [other] : [])])].map((subject_id, i) => ({
    username: `citizen${i + 1}`,
    password: randomBytes(12).toString("base64url"),
    subject_id,
  }));
}

/**
 * "Who read my data" for `xbus dev` and the tests: the dev identity provider (a real OpenID provider
 * with the population's synthetic citizens) and the citizen page, signed in through it, over the log.
 * Production runs the same citizen app against the national identity's issuer instead.
 */
export async function startCitizenPage(o: {
  index: LogIndexReader;
  logPublicKey: KeyObject;
  logSecret: Uint8Array;
  policy: PolicySource;
  population: Population;
  logger: Logger;
  /** The clock delayed disclosure is judged by; default Date.now. */
  now?: () => number;
  /** Who opted in to be told of new accesses, when a portal is configured to be told. */
  notifications?: NotifyStore;
}): Promise<CitizenPage> {
  // The page's address must be known before the provider registers it as the redirect: listen first,
  // and route to the app once it is built.
  let app: Hono | undefined;
  const server = await serveReview(
    new Hono().all("*", (c) => (app ? app.fetch(c.req.raw) : c.text("starting", 503))),
  );
  const url = server.url.replace("127.0.0.1", "localhost");
  const users = devCitizenUsers(o.population);
  const client = { id: "xbus-citizen-page", secret: randomBytes(24).toString("base64url") };
  const idp = await startDevIdentityProvider({
    users,
    client: { ...client, redirectUri: `${url}/citizen/callback` },
    claim: DEV_CITIZEN_CLAIM,
    logger: o.logger,
  }).catch(async (err: unknown) => {
    await server.close();
    throw err;
  });
  try {
    const signIn = await createOidcSignIn({
      issuer: idp.issuer,
      clientId: client.id,
      clientSecret: client.secret,
      redirectUri: `${url}/citizen/callback`,
      claim: DEV_CITIZEN_CLAIM,
    });
    app = createCitizenApp({
      index: o.index,
      logPublicKey: o.logPublicKey,
      logSecret: o.logSecret,
      subjectIdPattern: DEFAULT_SUBJECT_ID_PATTERN,
      purposes: () => o.policy.current().purposes,
      signIn,
      cookieSecret: randomBytes(32).toString("base64url"),
      secure: false,
      logger: o.logger.child({ component: "citizen" }),
      ...(o.now ? { now: o.now } : {}),
      ...(o.notifications ? { notifications: o.notifications } : {}),
    });
  } catch (err) {
    await idp.close();
    await server.close();
    throw err;
  }
  return {
    url: `${url}/citizen/`,
    issuer: idp.issuer,
    users,
    close: async () => {
      await server.close();
      await idp.close();
    },
  };
}
