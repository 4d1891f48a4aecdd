import { createInbox, errors, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";

export interface RequestMux {
  /**
   * Publishes `data` on `subject` and resolves with the first reply. Rejects,
   * with nats.js's own error classes so callers map failures one way:
   * TimeoutError after `timeoutMs`; a RequestError whose cause is a
   * NoRespondersError when nobody listens; a RequestError "connection closed"
   * when the connection ends first.
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
      const token = msg?.subject.startsWith(prefix) ? msg.subject.slice(prefix.length) : undefined;
      const p = token === undefined ? undefined : pending.get(token);
      if (!p || token === undefined) return;
      pending.delete(token);
      clearTimeout(p.timer);
      if (err) p.reject(new errors.RequestError(err.message, { cause: err }));
      else if (msg.data.length === 0 && msg.headers?.code === 503)
        p.reject(
          new errors.RequestError(`no responders: '${p.subject}'`, {
            cause: new errors.NoRespondersError(p.subject),
          }),
        );
      else p.resolve(msg);
    },
  });
  void sub.closed.then(
    () => failAll(new errors.RequestError("connection closed")),
    (err: Error) => failAll(new errors.RequestError("connection closed", { cause: err })),
  );
  return {
    request(subject, data, opts) {
      const token = (next++).toString(36);
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
