import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { httpError } from "./http-errors.js";

const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="xbus-review"' };

/**
 * Lets a request through only with `Authorization: Bearer TOKEN` where SHA-256(TOKEN) is one of
 * `tokenHashes` (lowercase hex): the server holds no token itself. The 401 says which of three things
 * was wrong (none, malformed, not a reviewer's), which tells a caller nothing about the tokens accepted.
 */
export function reviewerAuth(tokenHashes: readonly string[]): MiddlewareHandler {
  const hashes = tokenHashes.map((h) => Buffer.from(h, "hex"));
  return async (c, next) => {
    const header = c.req.header("authorization");
    const token = /^Bearer ([A-Za-z0-9._~+/=-]{16,256})$/.exec(header ?? "")?.[1];
    const digest = token ? createHash("sha256").update(token).digest() : undefined;
    if (!digest || !hashes.some((h) => h.length === digest.length && timingSafeEqual(h, digest)))
      throw httpError(
        401,
        header === undefined
          ? "a reviewer bearer token is required (Authorization: Bearer TOKEN)"
          : token === undefined
            ? "the Authorization header must be Bearer TOKEN, the token 16 to 256 characters of A-Z a-z 0-9 . _ ~ + / = -"
            : "this bearer token is not a reviewer's",
        CHALLENGE,
      );
    await next();
  };
}
