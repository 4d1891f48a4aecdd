import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { writeTestLogIndex } from "../../test/helpers/log-index.js";
import { subjectRef } from "../log/subject-ref.js";
import { type CitizenAppOptions, createCitizenApp } from "./app.js";
import type { OidcSignIn } from "./oidc-sign-in.js";

// The citizen app's own rules, with a stand-in issuer: the session is the only source of the subject,
// a sign-in is redeemed once, the cookies are what they must be. The real issuer and browser are in
// citizen-chromium.test.ts.

const SECRET = randomBytes(32);
const ALICE = "10000000001";
const BOB = "10000000002";
const records = [ALICE, BOB, ALICE, BOB, BOB].map((subject, i) => ({
  exchangeId: randomUUID(),
  time: BigInt(Date.UTC(2026, 0, 5) + i * 60_000),
  consumer: "spiffe://gov.bt/agency/moh/system/ehr",
  service: "dcrc.citizen-record",
  subjectRef: subjectRef(SECRET, subject),
  purpose: "treatment",
  decision: i === 2 ? Decision.DENY : Decision.ALLOW,
  status: i === 2 ? "POLICY_DENIED" : "OK",
  fieldsReleased: i === 2 ? [] : ["name"],
}));
const log = writeTestLogIndex(records);
afterAll(() => log.close());

/** An issuer that asserts whatever citizen ID the callback's `code` names. */
const signIn: OidcSignIn = {
  begin: async () => ({
    url: new URL("https://id.example/authorize"),
    pending: { state: "s", nonce: "n", codeVerifier: "v" },
  }),
  finish: async (url) => url.searchParams.get("code") ?? "",
};
const app = (secure = false, extra: Partial<CitizenAppOptions> = {}) =>
  createCitizenApp({
    index: log.reader,
    logPublicKey: log.publicKey,
    logSecret: SECRET,
    subjectIdPattern: /^\d{11}$/,
    purposes: () =>
      new Map([["treatment", { description: "Treatment", legalBasis: "Medical and Health Act" }]]),
    signIn,
    cookieSecret: randomBytes(32).toString("base64url"),
    secure,
    ...extra,
  });

/** The `name=value` of a Set-Cookie header, for the next request's Cookie header. */
const cookieOf = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .find((c) => c.startsWith(`${name}=`))
    ?.split(";")[0] ?? "";

async function signedIn(a: ReturnType<typeof app>, subject: string) {
  const login = await a.request("/citizen/login");
  const pending = cookieOf(login, "xbus_citizen_sign_in");
  const cb = await a.request(`/citizen/callback?code=${subject}&state=s`, { headers: { cookie: pending } });
  expect(cb.status).toBe(302);
  return { session: cookieOf(cb, "xbus_citizen"), pending };
}

it("lists only the signed-in citizen's exchanges, denied ones too, with the legal basis", async () => {
  const a = app();
  const { session } = await signedIn(a, ALICE);
  const res = await a.request("/citizen/api/accesses", { headers: { cookie: session } });
  const body = (await res.json()) as {
    accesses: { exchange_id: string; decision: string; legal_basis: string }[];
  };
  expect(body.accesses.map((r) => r.exchange_id).sort()).toEqual(
    [records[0], records[2]].map((r) => r?.exchangeId).sort(),
  );
  expect(body.accesses.map((r) => r.decision).sort()).toEqual(["allow", "deny"]);
  expect(body.accesses[0]?.legal_basis).toBe("Medical and Health Act");
});

it("answers 404 for another citizen's proof, as for no exchange at all", async () => {
  const a = app();
  const { session } = await signedIn(a, ALICE);
  const proof = (id: string | undefined) =>
    a.request(`/citizen/api/accesses/${id}/proof`, { headers: { cookie: session } });
  expect((await proof(records[0]?.exchangeId)).status).toBe(200);
  expect((await proof(records[1]?.exchangeId)).status).toBe(404);
  expect((await proof(randomUUID())).status).toBe(404);
  expect(
    (await a.request(`/citizen/api/accesses?subject_id=${BOB}`, { headers: { cookie: session } })).status,
  ).toBe(400);
});

it("redeems a sign-in once, and refuses a citizen ID not of the trust domain's form", async () => {
  const a = app();
  const { pending } = await signedIn(a, ALICE);
  expect((await a.request(`/citizen/callback?code=${ALICE}`, { headers: { cookie: pending } })).status).toBe(
    400,
  );
  const login = await a.request("/citizen/login");
  const again = cookieOf(login, "xbus_citizen_sign_in");
  const odd = await a.request("/citizen/callback?code=1' OR 1=1", { headers: { cookie: again } });
  expect(odd.status).toBe(401);
  expect(cookieOf(odd, "xbus_citizen")).toBe("");
});

it("refuses no session, a forged one, and one signed out", async () => {
  const a = app();
  expect((await a.request("/citizen/api/accesses")).status).toBe(401);
  const { session } = await signedIn(a, ALICE);
  const forged = session.replace(/=(.)/, (_m, c: string) => `=${c === "A" ? "B" : "A"}`);
  expect((await a.request("/citizen/api/accesses", { headers: { cookie: forged } })).status).toBe(401);
  const out = await a.request("/citizen/logout", {
    method: "POST",
    headers: {
      cookie: session,
      origin: "http://localhost",
      "content-type": "application/x-www-form-urlencoded",
    },
  });
  expect(out.status).toBe(303);
  expect((await a.request("/citizen/api/accesses", { headers: { cookie: session } })).status).toBe(401);
});

it("sets HttpOnly, SameSite=Lax cookies, Secure when served over TLS", async () => {
  for (const secure of [false, true]) {
    const login = await app(secure).request("/citizen/login");
    const header = login.headers.getSetCookie().join("\n");
    expect(header).toMatch(/HttpOnly/);
    expect(header).toMatch(/SameSite=Lax/);
    expect(/Secure/.test(header)).toBe(secure);
  }
});

it("lets a citizen turn portal notices on and off for themselves only, as JSON only", async () => {
  const enabled = new Set<string>();
  const notifications = {
    enabled: (ref: string) => enabled.has(ref),
    set: (ref: string, on: boolean) => void (on ? enabled.add(ref) : enabled.delete(ref)),
    progress: () => undefined,
    saveProgress: () => {},
    close: () => {},
  };
  const plain = app();
  const none = await signedIn(plain, ALICE);
  const off = await plain.request("/citizen/api/notifications", { headers: { cookie: none.session } });
  expect(await off.json()).toEqual({ available: false, enabled: false });

  const a = app(false, { notifications });
  const { session } = await signedIn(a, ALICE);
  const put = (body: string, type = "application/json", origin = "http://localhost") =>
    a.request("/citizen/api/notifications", {
      method: "PUT",
      headers: { cookie: session, "content-type": type, origin },
      body,
    });
  // What a form on another site can send is refused as CSRF; a type a form cannot send, as not JSON.
  expect((await put('{"enabled":true}', "text/plain", "http://evil.example")).status).toBe(403);
  expect((await put("enabled=true", "application/x-www-form-urlencoded", "http://evil.example")).status).toBe(
    403,
  );
  expect((await put('{"enabled":true}', "text/plain")).status).toBe(415);
  expect((await put('{"enabled":"yes"}')).status).toBe(400);
  expect((await put('{"enabled":true}')).status).toBe(200);
  expect([...enabled]).toEqual([subjectRef(SECRET, ALICE)]);
  const got = await a.request("/citizen/api/notifications", { headers: { cookie: session } });
  expect(await got.json()).toEqual({ available: true, enabled: true });
  expect((await put('{"enabled":false}')).status).toBe(200);
  expect(enabled.size).toBe(0);
});
