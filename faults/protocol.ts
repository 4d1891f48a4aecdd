/**
 * Messages between the fault harness (faults/run.ts) and its children: the
 * load process (faults/load.ts) and the agencies' provider processes
 * (faults/provider.ts). Children are forked with `serialization: "advanced"`,
 * so Uint8Array crosses as it is.
 */

/** One kind of request in the load's mix: who asks, for what, and whether policy should allow it. */
export interface LoadRequest {
  /** Index into LoadStart.consumers. */
  consumer: number;
  service: string;
  subjectId: string;
  purpose: string;
  expect: "allow" | "deny";
}

export interface LoadStart {
  type: "start";
  /**
   * host:port of every broker of the target. With one broker every worker uses it; with n > 1, worker i
   * uses brokers[i % (n + 1)], and slot n is a channel over all of them with round_robin (fail-over).
   */
  brokers: string[];
  ca: string;
  consumers: { name: string; cert: string; key: string }[];
  requests: LoadRequest[];
  /** Closed loop: this many calls in flight, each worker sends its next when its last is answered. */
  concurrency: number;
  /** The consumer's deadline on each call. */
  deadlineMs: number;
  /** Prefix of every request_id, so the log's entries can be told apart from anyone else's. */
  tag: string;
}

/** One answered call (or one the load gave up on at its deadline). */
export interface LoadEvent {
  /** Epoch milliseconds when the call was sent and when it was answered. */
  sentAt: number;
  doneAt: number;
  requestId: string;
  /** Index into LoadStart.requests. */
  request: number;
  /** Index into LoadStart.brokers: the broker it was sent to; brokers.length for the fail-over channel over all. */
  broker: number;
  /** `OK`, or the failure as `code:reason` (reason `-` when the answer carried none). */
  outcome: string;
  exchangeId: string;
  /** The broker that signed the receipt of a successful answer (which one a fail-over channel reached). */
  servedBy?: string;
  /** The receipt of a successful answer, as its protobuf bytes. */
  receipt?: Uint8Array;
}

export type LoadCommand = LoadStart | { type: "drain" } | { type: "stop" };
export type LoadReply =
  | { type: "started" }
  | { type: "events"; events: LoadEvent[]; inFlight: number }
  | { type: "failed"; message: string };

/** What a provider process needs: the files the stack issued for one agency's connector. */
export interface ProviderConfig {
  agency: string;
  /** Names this connector among its agency's queue group (its NATS connection name). */
  instance: string;
  natsUrl: string;
  /** Connect to NATS with the connector's certificate (mutual TLS, verify_and_map). */
  natsTls: boolean;
  caPath: string;
  /** Every broker's route-signing public key (PEM files): the connector answers routes signed by any. */
  brokerKeyPaths: string[];
  connector: { certPath: string; keyPath: string };
}

/**
 * How an adapter misbehaves: `hang` never answers, `slow` answers after
 * `delayMs`, `garbage` answers with bytes that are not the record type.
 */
export type AdapterFault =
  | { kind: "none" }
  | { kind: "hang" }
  | { kind: "slow"; delayMs: number }
  | { kind: "garbage" };

export type ProviderCommand =
  | { type: "start"; config: ProviderConfig }
  | { type: "fault"; fault: AdapterFault }
  | { type: "stop" };
export type ProviderReply = { type: "ready" } | { type: "ok" } | { type: "failed"; message: string };
