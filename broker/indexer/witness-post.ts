import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/** A witness's answer is a few signature lines or a size: anything longer is refused unread. */
const MAX_ANSWER = 64 * 1024;

/**
 * The log service's POST to a witness: http, or https checked against `ca` (the federation's trust
 * bundle, PEM; the system's roots when absent), given up after `timeoutMs` so a witness that hangs
 * costs one request, not a stuck round. Answers as a fetch Response (witnessing's interface).
 */
export function witnessPost(o: { ca?: string | undefined; timeoutMs: number }) {
  return (url: string, init: { method: "POST"; body: string }): Promise<Response> =>
    new Promise((resolve, reject) => {
      const target = new URL(url);
      if (target.protocol !== "http:" && target.protocol !== "https:")
        return reject(new Error(`witness URL ${target.origin}: not http or https`));
      const send = target.protocol === "https:" ? httpsRequest : httpRequest;
      const req = send(
        target,
        {
          method: init.method,
          headers: {
            "content-type": "text/plain; charset=utf-8",
            "content-length": Buffer.byteLength(init.body),
          },
          timeout: o.timeoutMs,
          ...(target.protocol === "https:" && o.ca !== undefined && { ca: o.ca }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER) req.destroy(new Error(`witness answered over ${MAX_ANSWER} bytes`));
            else chunks.push(c);
          });
          res.on("end", () => {
            const status = res.statusCode ?? 502;
            // Response refuses a body on 204/205/304 and any status outside 200–599.
            if (status < 200 || status > 599 || [204, 205, 304].includes(status))
              return resolve(new Response(null, { status: 502 }));
            resolve(new Response(Buffer.concat(chunks), { status }));
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`witness did not answer within ${o.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(init.body);
    });
}
