import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../helpers/stack.js";

/*
 * The review API off the exchange path and on TLS (issue 19, finding 5 and 7), through the real stack:
 * a bind beyond loopback without TLS is refused at start; with a server certificate from the stack's
 * CA it answers a client that trusts that CA, from its own thread (it answers while the broker's
 * event loop is blocked); /metrics is not on its port.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ review: { tls: true } });
});
afterAll(async () => {
  await stack?.close();
});

function review(): { url: string; token: string } {
  if (!stack.review) throw new Error("the stack has no review API");
  return stack.review;
}

/** GET over HTTPS with `ca` as the only trust anchor: the status and body, or the TLS error's code. */
function get(path: string, ca: string | undefined, token = review().token) {
  return new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
    const req = request(
      `${review().url}${path}`,
      { ...(ca !== undefined ? { ca } : {}), headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

describe("the review API on TLS", () => {
  it("answers over HTTPS a client that trusts the federation's CA, and no client that does not", async () => {
    expect(review().url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(stack.caPath, "utf8");
    const ok = await get("/v1/exchanges?limit=1", ca);
    expect(ok).toMatchObject({ status: 200 });
    expect(JSON.parse((ok as { body: string }).body)).toHaveProperty("exchanges");
    const untrusted = await get("/v1/exchanges?limit=1", undefined);
    expect(untrusted).toEqual({
      error: expect.stringMatching(/CERT|SELF_SIGNED|UNABLE_TO_(GET_ISSUER|VERIFY_LEAF)/),
    });
  });

  it("serves no /metrics on its port; the metrics have a port of their own", async () => {
    const ca = readFileSync(stack.caPath, "utf8");
    expect(await get("/metrics", ca)).toMatchObject({ status: 404 });
    expect(await get("/metrics", ca, "")).toMatchObject({ status: 404 });
    expect(stack.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(stack.metricsUrl).port).not.toBe(new URL(review().url).port);
    const res = await fetch(stack.metricsUrl);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("xbus_");
  });

  it("answers from its own thread while the broker's event loop is blocked", () => {
    // spawnSync blocks this thread (the broker's, and the log service's main thread) until curl ends:
    // a review API on this event loop could not answer, and curl would give up after 30 s.
    const r = spawnSync(
      "curl",
      [
        "--silent",
        "--show-error",
        "--max-time",
        "30",
        "--cacert",
        stack.caPath,
        "-H",
        `authorization: Bearer ${review().token}`,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        `${review().url}/v1/exchanges?limit=1`,
      ],
      { encoding: "utf8" },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("200");
  });
});

describe("a review API beyond loopback", () => {
  it("is refused at start without TLS or review.allow_insecure_http, naming what to set", async () => {
    const started = startTestStack({ review: { hostname: "0.0.0.0" } });
    await expect(started).rejects.toThrow(
      /review API will not listen on 0\.0\.0\.0 over plain HTTP.*review\.tls_cert and review\.tls_key.*review\.allow_insecure_http/,
    );
  });
});
