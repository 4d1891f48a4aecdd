import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { routePath } from "hono/route";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "../../core/index.js";
import { ProofRangeError } from "../indexer/merkle-store.js";

/** The body of every refusal: `{"error": {"status": 400, "message": "limit must be 1 to 1000"}}`. */
function errorResponse(status: ContentfulStatusCode, message: string, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify({ error: { status, message } }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** A refusal that carries the response it becomes, headers included (a 401's `WWW-Authenticate`). */
export function httpError(
  status: ContentfulStatusCode,
  message: string,
  headers?: Record<string, string>,
): HTTPException {
  return new HTTPException(status, { message, res: errorResponse(status, message, headers) });
}

export function badRequest(message: string): HTTPException {
  return httpError(400, message);
}

/**
 * The review API's one error path. A refusal answers as it says; anything else is a fault of the server:
 * logged with the method and the route's pattern only — a path can hold a citizen ID, a query a filter on
 * one, a header the token — and answered 500 without its message.
 */
export function reviewErrorHandler(logger: Logger): ErrorHandler {
  return (err: Error, c: Context) => {
    if (err instanceof HTTPException)
      return err.res ? err.getResponse() : errorResponse(err.status as ContentfulStatusCode, err.message);
    // Only a proof asked for outside the tree: any other RangeError (a stack overflow, say) is a bug.
    if (err instanceof ProofRangeError) return errorResponse(400, err.message);
    logger.error({ method: c.req.method, route: routePath(c, -1), err }, "review API request failed");
    return errorResponse(500, "internal error");
  };
}

export const noSuchRoute: NotFoundHandler = () => errorResponse(404, "no such route");
