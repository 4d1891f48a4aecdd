import type { KeyObject } from "node:crypto";
import type { ReviewClient } from "../verifier/index.js";
import type { AdapterFault } from "./protocol.js";

/**
 * What a topology can have done to it. A row names the capabilities it needs
 * and runs only on a target that has them all: the single-node stack has the
 * first five, the cluster topology (faults/cluster.ts) the middle three and the
 * last five.
 */
export type Capability =
  /** Its one nats-server can be SIGKILLed and restarted on the same store. */
  | "nats-kill"
  /** Each agency runs two connectors in their own processes, which can be SIGKILLed and restarted. */
  | "connector-kill"
  /** The connectors' adapters can be made to hang, answer slowly or answer garbage. */
  | "adapter-fault"
  /** A consumer certificate can be revoked while the load uses it. */
  | "revoke"
  /** The log stream can be created with a max_bytes of the run's choosing (small, or a soak's large one) in a fresh stack. */
  | "sized-log"
  /** Core nats-servers of a cluster can be SIGKILLed and restarted, one or two at once (quorum). */
  | "core-kill"
  /** A core nats-server can be frozen (SIGSTOP) and thawed (SIGCONT): cut off without closing a socket. */
  | "core-freeze"
  /** An agency's leaf nats-server can be SIGKILLed and restarted. */
  | "leaf-kill"
  /** A broker is a process of its own (`xbus broker`) that can be SIGKILLed and started again on its port. */
  | "broker-kill"
  /** The log services are processes of their own (`xbus log serve`, active and standby) that can be SIGKILLed and restarted. */
  | "log-service-kill";

export type LogNodeRole = "leader" | "follower" | "indexer";

/** The faults a cluster target can do to its nats-servers, brokers and log services (Target.cluster). */
export interface ClusterFaults {
  /** The core's server names (`xbus-n1` …). */
  readonly coreNodes: readonly string[];
  /**
   * A core node by its part in the XBUS_LOG stream now (server name): its RAFT `leader`; a current
   * `follower`, one that serves none of the stream's consumers when there is one; or the node serving
   * the most of the stream's consumers (the log services' indexers), `indexer`.
   */
  logStreamNode(role: LogNodeRole): Promise<string>;
  /** How many consumers of the log stream (the log services' indexers) each core node serves now, by server name. */
  logConsumersByNode(): Promise<Record<string, number>>;
  killCoreNode(name: string): Promise<void>;
  /** Starts a killed (or stopped) core node again on its store; a no-op on one that runs. */
  restartCoreNode(name: string): Promise<void>;
  freezeCoreNode(name: string): Promise<void>;
  thawCoreNode(name: string): Promise<void>;
  /**
   * Who is attached to each running, unfrozen core node now (server name → the names of its client
   * connections and of the leaf nodes it serves), from nats-server's /connz and /leafz: what a freeze of that
   * node cuts off.
   */
  attachedByNode(): Promise<Record<string, string[]>>;
  killLeaf(agency: string): Promise<void>;
  restartLeaf(agency: string): Promise<void>;
  /** The brokers' ids, in the order of Target.brokers (the load's worker w uses broker w mod their number). */
  readonly brokerIds: readonly string[];
  /** SIGKILLs a broker's process; resolves once it is gone. */
  killBroker(id: string): Promise<void>;
  /** Starts a killed broker again with its config, on its port; resolves once it is ready. A no-op on one that runs. */
  restartBroker(id: string): Promise<void>;
  /** The log services' names. */
  readonly logServices: readonly string[];
  /** The log service that signs tree heads now (it said it took the signer's lease), waited for up to `timeoutMs`. */
  signer(timeoutMs: number): Promise<string>;
  /**
   * A log service other than `not` that took the signer's lease at or after `since` (epoch ms), and when by
   * its own log line; waited for up to `timeoutMs`, undefined when none did.
   */
  signerTakeover(
    not: string,
    since: number,
    timeoutMs: number,
  ): Promise<{ name: string; at: number } | undefined>;
  killLogService(name: string): Promise<void>;
  /** Starts a killed log service again (its index and review port kept); resolves once it is ready. */
  restartLogService(name: string): Promise<void>;
  /** What a log service said it is since it last started: signing, standing by, or nothing yet. */
  logServiceRole(name: string): "active" | "standby" | undefined;
}

/** One process of a target, for the soak's samples. */
export interface TargetProcess {
  name: string;
  pid: number;
  /** The NATS connection names (prefixes) this process opens, to count its connections in /connz. */
  natsNames?: string[];
}

export interface Target {
  readonly name: string;
  readonly capabilities: ReadonlySet<Capability>;
  /** host:port of every broker's Exchange front door. */
  readonly brokers: readonly string[];
  readonly ca: string;
  /** The consumer systems the load may present, by name. */
  readonly consumers: readonly { name: string; spiffeId: string; cert: string; key: string }[];
  /** The review API: tree heads, proofs and entries of the exchange log. */
  readonly review: ReviewClient;
  readonly logId: string;
  /** base64 of the raw Ed25519 key that signs tree heads (pinned by the audit). */
  readonly logPublicKey: string;
  /** The keys that sign receipts, by broker id (a receipt's broker_id). */
  readonly brokerPublicKeys: ReadonlyMap<string, KeyObject>;
  /** The agencies whose connectors run here, and how many of each. */
  readonly agencies: readonly string[];
  readonly connectorsPerAgency: number;
  /** Every process of the target right now (this one included), with a name that stays the same across restarts. */
  processes(): TargetProcess[];
  /** The names of the client connections nats-server holds now (its /connz). */
  natsConnectionNames(): Promise<string[]>;
  killNats(): Promise<void>;
  restartNats(): Promise<void>;
  killConnector(agency: string, instance: number): Promise<void>;
  startConnector(agency: string, instance: number): Promise<void>;
  adapterFault(agency: string, fault: AdapterFault): Promise<void>;
  /** Raises the log stream's max_bytes (a small log's only way out of "full": lowering would truncate it). */
  growLog(maxBytes: number): Promise<void>;
  /** Revokes the named consumer's certificate and makes the broker read the CRL now. */
  revokeConsumer(name: string): Promise<void>;
  /** A cluster's node faults; absent on a target with no cluster. */
  readonly cluster?: ClusterFaults;
  close(): Promise<void>;
}

export interface TargetOptions {
  /** Where the target's files go (certificates, JetStream store, logs). */
  dir: string;
  /**
   * Create the exchange log's stream with this max_bytes: small for the storage-full row, large for a
   * soak (which writes more than the default 1 GiB in half an hour on a quiet machine).
   */
  logMaxBytes?: number;
  /** Where the components' log lines go. */
  logFile: string;
}

export class MissingCapabilityError extends Error {
  constructor(target: string, what: Capability) {
    super(`target ${target} cannot do ${what}`);
  }
}
