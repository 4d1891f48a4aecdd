import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { isIP } from "node:net";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";

export interface ReviewServer {
  /** `http://127.0.0.1:PORT`, or `https://HOST:PORT` with TLS. */
  readonly url: string;
  close(): Promise<void>;
}

export interface ReviewListen {
  /** Default 127.0.0.1. */
  hostname?: string;
  /** Default 0: a free port. */
  port?: number;
  /** The server's certificate (a `server` certificate from the federation's CA) and key, PEM. */
  tls?: { cert: string; key: string } | undefined;
  /** Plain HTTP on an address that is not loopback (`review.allow_insecure_http`). Default false. */
  allowInsecureHttp?: boolean | undefined;
}

/** True for an address only this machine reaches: `localhost`, 127.0.0.0/8, ::1 (and ::ffff:127.x.y.z). */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  return h.startsWith("::ffff:127.") && isIP(h) === 6;
}

/**
 * Why the review API may not listen as asked, or undefined when it may: bearer tokens and the log's
 * records cross the network, so anything but loopback needs TLS or the explicit setting.
 */
export function reviewListenProblem(o: ReviewListen): string | undefined {
  const hostname = o.hostname ?? "127.0.0.1";
  if (o.tls || o.allowInsecureHttp || isLoopback(hostname)) return undefined;
  return (
    `the review API will not listen on ${hostname} over plain HTTP: reviewer tokens and log records would ` +
    "cross the network in clear. Give it a certificate (review.tls_cert and review.tls_key: a server " +
    "certificate from the federation's CA, `xbus certs issue --role server --dns HOST`), listen on a " +
    "loopback address (127.0.0.1) behind a TLS proxy, or set review.allow_insecure_http to true"
  );
}

/** Serves the review app on loopback by default, over TLS when given a certificate; port 0 picks a free one. */
export async function serveReview(app: Hono, opts: ReviewListen = {}): Promise<ReviewServer> {
  const problem = reviewListenProblem(opts);
  if (problem) throw new Error(problem);
  const hostname = opts.hostname ?? "127.0.0.1";
  const tls = opts.tls;
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        hostname,
        port: opts.port ?? 0,
        ...(tls
          ? {
              createServer: createHttpsServer,
              serverOptions: { cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" },
            }
          : {}),
      },
      () => resolve(s),
    );
    s.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = isIP(hostname) === 6 ? `[${hostname}]` : hostname;
  return {
    url: `${tls ? "https" : "http"}://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
