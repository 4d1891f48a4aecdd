import * as oidc from "openid-client";

export interface OidcSignInOptions {
  /** The issuer identifier; its discovery document is read at start. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The citizen page's callback, registered at the issuer. */
  redirectUri: string;
  /** The ID token claim that carries the citizen ID (the issuer's name for it). */
  claim: string;
}

/** What one sign-in keeps between the redirect to the issuer and the callback: never sent to the browser. */
export interface PendingSignIn {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

export interface OidcSignIn {
  /** Where to send the browser, and what to keep for the callback. */
  begin(): Promise<{ url: URL; pending: PendingSignIn }>;
  /**
   * Redeems the code of a callback (state, nonce and PKCE checked; the ID token's signature, issuer,
   * audience and expiry verified by openid-client against the issuer's JWKS) and returns the claim.
   */
  finish(callbackUrl: URL, pending: PendingSignIn): Promise<string>;
}

/**
 * Citizen sign-in with OpenID Connect, authorization code and PKCE (S256), through openid-client: no
 * token is parsed or checked here by hand. An `http:` issuer is accepted on loopback only (the dev
 * stand-in); anywhere else the issuer must be HTTPS.
 */
export async function createOidcSignIn(o: OidcSignInOptions): Promise<OidcSignIn> {
  const issuer = new URL(o.issuer);
  const loopback = issuer.hostname === "localhost" || issuer.hostname === "127.0.0.1";
  if (issuer.protocol !== "https:" && !(issuer.protocol === "http:" && loopback))
    throw new Error(`citizen sign-in: the issuer ${o.issuer} must be https (http only on localhost)`);
  const config = await oidc.discovery(
    issuer,
    o.clientId,
    o.clientSecret,
    undefined,
    issuer.protocol === "http:" ? { execute: [oidc.allowInsecureRequests] } : undefined,
  );
  return {
    async begin() {
      const pending = {
        state: oidc.randomState(),
        nonce: oidc.randomNonce(),
        codeVerifier: oidc.randomPKCECodeVerifier(),
      };
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: o.redirectUri,
        scope: `openid ${o.claim}`,
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
        code_challenge_method: "S256",
        state: pending.state,
        // Always the password again: the page is read on shared computers too, and a session left open
        // at the issuer must not sign the next person in as the last one.
        prompt: "login",
        nonce: pending.nonce,
      });
      return { url, pending };
    },
    async finish(callbackUrl, pending) {
      const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const value = tokens.claims()?.[o.claim];
      if (typeof value !== "string") throw new Error(`the ID token carries no string claim ${o.claim}`);
      return value;
    },
  };
}
