import type { Hono } from "hono";
import { afterAll, beforeAll } from "vitest";
import { type ReviewServer, serveReview } from "../../broker/review/serve.js";

/**
 * Serves `app` on a free loopback port for the tests of the calling file or describe block: started in
 * its beforeAll, closed in its afterAll even when a test failed, then `after` (say, the index's close).
 */
export function serveInSuite(app: Hono, after: () => void = () => {}): { readonly url: string } {
  let server: ReviewServer | undefined;
  beforeAll(async () => {
    server = await serveReview(app);
  });
  afterAll(async () => {
    await server?.close();
    after();
  });
  return {
    get url() {
      if (!server) throw new Error("the server starts in beforeAll: read its url inside a test");
      return server.url;
    },
  };
}
