import { randomBytes } from "node:crypto";
import { createInbox, errors, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";

export interface RequestMux {
  /**
   * Publishes `data` on `subject` and resolves with the first reply. Rejects,
   * with nats.js's own error classes so callers map failures one way:
   * TimeoutError after `timeoutMs`; a RequestError whose cause is a
   * NoRespondersError when nobody listens; a RequestError "connection closed"
   * when the connection ends first, or naming the error that ended the inbox
   * subscription (a permissions violation) without waiting for the timeout.
   */
  request(subject: string, data: Uint8Array, opts: { timeoutMs: number; headers?: MsgHdrs }): Promise<Msg>;
  /** Ends the inbox subscription; requests still waiting fail as "connection closed". */
  close(): void;
}

interface Pending {
  subject: string;
  resolve: (m: Msg) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Request/reply on one wildcard inbox subscription, for the broker's two
 * requests per exchange (the route and the log append). nats.js's
 * `nc.request` does the same, but after every successful reply it also builds
 * a stack-traced RequestError("cancelled") that nobody sees (RequestOne.cancel,
 * also inside `js.publish`): ~2% of a busy broker's thread, for nothing.
 * Replies that come after their request gave up are dropped.
 */
let pool = Buffer.alloc(0);
let at = 0;
/** 12 random bytes as 16 base64url characters (a valid subject token: no dot, no wildcard). */
function randomToken(): string {
  if (at + 12 > pool.length) {
    pool = randomBytes(12 * 512);
    at = 0;
  }
  at += 12;
  return pool.toString("base64url", at - 12, at);
}

export function createRequestMux(nc: NatsConnection): RequestMux {
  const prefix = `${createInbox()}.`;
  const pending = new Map<string, Pending>();
  let next = 0;
  const failAll = (err: Error) => {
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    pending.clear();
  };
  const sub = nc.subscribe(`${prefix}*`, {
    callback: (err, msg) => {
      // An error here is the subscription's own (nats.js passes it with an empty message): a
      // permissions violation on the inbox. Nothing can be answered any more, so say so now rather than
      // at each request's timeout. (Throwing here would end nats.js's reader, and the connection.)
      if (err)
        return failAll(new errors.RequestError(`the request inbox failed: ${err.message}`, { cause: err }));
      const token =
        typeof msg?.subject === "string" && msg.subject.startsWith(prefix)
          ? msg.subject.slice(prefix.length)
          : undefined;
      const p = token === undefined ? undefined : pending.get(token);
      if (!p || token === undefined) return;
      pending.delete(token);
      clearTimeout(p.timer);
      if (msg.data.length === 0 && msg.headers?.code === 503)
        p.reject(
          new errors.RequestError(`no responders: '${p.subject}'`, {
            cause: new errors.NoRespondersError(p.subject),
          }),
        );
      else p.resolve(msg);
    },
  });
  // The subscription ends with the connection, or with an error of its own (the inbox refused).
  const ended = (err: unknown) =>
    failAll(
      err instanceof Error
        ? new errors.RequestError(`the request inbox closed: ${err.message}`, { cause: err })
        : new errors.RequestError("connection closed"),
    );
  void sub.closed.then(ended, ended);
  return {
    request(subject, data, opts) {
      // Unguessable (issue 19, finding 8): a party that may publish to inboxes cannot aim a forged reply at a
      // pending request by counting; the counter keeps tokens unique. Random bytes come from a pool refilled
      // every 512 requests, so a request costs no system call.
      const token = `${(next++).toString(36)}${randomToken()}`;
      return new Promise<Msg>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(token);
          reject(new errors.TimeoutError());
        }, opts.timeoutMs);
        pending.set(token, { subject, resolve, reject, timer });
        try {
          nc.publish(subject, data, { reply: prefix + token, headers: opts.headers });
        } catch (err) {
          clearTimeout(timer);
          pending.delete(token);
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    },
    close() {
      sub.unsubscribe();
      failAll(new errors.RequestError("connection closed"));
    },
  };
}
