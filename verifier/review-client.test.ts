import { createServer } from "node:net";
import { expect, it } from "vitest";
import { reviewClient } from "./review-client.js";

/** A loopback port that nothing listens on (taken, then let go). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

it("says which review API it could not reach and why, not only 'fetch failed'", async () => {
  const port = await closedPort();
  const client = reviewClient(`http://127.0.0.1:${port}`, "t".repeat(20), "from .xbus/dev/dev.json");
  await expect(client.get("/v1/log/tree-head")).rejects.toThrow(
    `cannot reach the review API at http://127.0.0.1:${port} (from .xbus/dev/dev.json): ECONNREFUSED`,
  );
});
