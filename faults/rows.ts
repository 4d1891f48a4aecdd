import type { TreeHeadJson } from "../verifier/index.js";
import { agencyOf } from "./measure.js";
import type { LoadEvent, LoadRequest } from "./protocol.js";
import {
  type Capability,
  type ClusterFaults,
  type LogNodeRole,
  MissingCapabilityError,
  type Target,
} from "./target.js";

/** What a row can do while it runs. */
export interface RowContext {
  readonly target: Target;
  /** The row's fault phase length. */
  readonly faultMs: number;
  /** The p99 (ms) of successful calls in this row's baseline. */
  baselineP99(): number;
  /** Resolves when an event answering `match` has arrived (after `since`), or false after `timeoutMs`. */
  waitFor(match: (e: LoadEvent, r: LoadRequest) => boolean, timeoutMs: number): Promise<boolean>;
  note(text: string): void;
  /**
   * Asks for the fault to last at least `ms` (called from `inject`): a fault that takes the log's leader away
   * must outlast an election for the row to see the bus serve on. Granted when the run's fault phase is itself
   * at least an election long (a full run); a short smoke run (--quick) keeps its length, and the row says what
   * it could not show.
   */
  stretchFault(ms: number): void;
}

/** What a row's own check sees: the events of each phase, with their requests. */
export interface RowPhases {
  /** When the fault was in place (inject returned). */
  injectedAt: number;
  /** When the repair began. */
  healedAt: number;
  /** Answered in the row before the fault (the baseline). */
  before: { e: LoadEvent; r: LoadRequest }[];
  /** Answered, or sent, between the injection and the repair. */
  fault: { e: LoadEvent; r: LoadRequest }[];
  /** Sent after the repair. */
  after: { e: LoadEvent; r: LoadRequest }[];
}

export interface Row {
  id: string;
  title: string;
  /** What a pass shows, for README and the JSON. */
  proves: string;
  needs: Capability[];
  /** Run on a fresh target of its own, with these options (the shared one otherwise). */
  fresh?: { logMaxBytes: number };
  /**
   * The bus cannot ride this fault out; it must serve again by itself once the
   * fault is repaired, so "serves again" is counted from the repair.
   */
  outage?: boolean;
  /** Failures that are the point of the row and stay after it (a revoked certificate's). */
  expected?(e: LoadEvent, r: LoadRequest, consumerName: string): boolean;
  inject(ctx: RowContext): Promise<void>;
  /** Repairs the fault; the bus must then serve again by itself. */
  heal(ctx: RowContext): Promise<void>;
  /** After the row is measured: puts back what the repair left out on purpose (the second node of a lost quorum). */
  restore?(ctx: RowContext): Promise<void>;
  /** Row-specific problems, beyond the ones every row is held to. */
  check?(p: RowPhases, ctx: { consumerName(r: LoadRequest): string; note(text: string): void }): string[];
}

const reasonOf = (e: LoadEvent) => e.outcome.split(":")[1] ?? e.outcome;
const ok = (e: LoadEvent) => e.outcome === "OK";

/** The victim agency of the connector, adapter and leaf rows. */
const VICTIM = "dcrc";

const clusterOf = (t: Target): ClusterFaults => {
  if (!t.cluster) throw new MissingCapabilityError(t.name, "core-kill");
  return t.cluster;
};

/** The log stream's leader now, for a note; "none" while it has none. */
const leaderNow = (c: RowContext) =>
  clusterOf(c.target)
    .logStreamNode("leader")
    .catch(() => "none");

/** The victim agency failed with PROVIDER_UNAVAILABLE while the others were served. */
function agencyDownCheck(p: RowPhases): string[] {
  const problems: string[] = [];
  const victim = p.fault.filter(({ r }) => agencyOf(r) === VICTIM && r.expect === "allow");
  const reasons = new Set(victim.filter(({ e }) => !ok(e)).map(({ e }) => reasonOf(e)));
  if (!reasons.has("PROVIDER_UNAVAILABLE"))
    problems.push(`no PROVIDER_UNAVAILABLE for ${VICTIM} (saw ${[...reasons].join(", ") || "none"})`);
  if (!p.fault.some(({ e, r }) => agencyOf(r) !== VICTIM && ok(e)))
    problems.push("no other agency was served meanwhile");
  return problems;
}

const KILLED: Record<LogNodeRole, { what: string; proves: string }> = {
  leader: {
    what: "the XBUS_LOG stream leader's",
    proves: "the log's RAFT group elects a new leader from the two nodes left and the bus serves on",
  },
  follower: {
    what: "an XBUS_LOG follower's (serving none of its consumers)",
    proves: "two of three nodes are a quorum: the bus serves on",
  },
  indexer: {
    what: "the log indexers'",
    proves:
      "the log services' indexers move to another node and signed heads keep growing, so every receipt is " +
      "in a signed head soon after",
  },
};

/** A note of where the log's stream leader and its consumers are, before a node is hit. */
async function placement(c: RowContext): Promise<string> {
  const cl = clusterOf(c.target);
  const consumers = await cl.logConsumersByNode().catch((err: unknown) => ({ error: String(err) }));
  const attached = await cl.attachedByNode().catch((err: unknown) => ({ error: String(err) }));
  return (
    `XBUS_LOG leader ${await leaderNow(c)}, its consumers by node ${JSON.stringify(consumers)}, ` +
    `attached by node ${JSON.stringify(attached)}`
  );
}

/** nats-server's RAFT election timeout is 4–9 s: a leader lost for less may not be replaced before it returns. */
export const ELECTION_MAX_MS = 9000;

/**
 * How long a fault that takes the log's leader away lasts in a full run: an election (up to 9 s), a consumer's
 * deadline (3 s) for the calls caught in it, and room for calls sent after it to be answered.
 */
const LEADER_LOSS_FAULT_MS = 15_000;

/**
 * Some request sent while `victim` was out succeeded. When the stream's leader was the one out and the
 * fault was shorter than an election can take (--quick's 3 s), that is not required, and said.
 */
function servedOn(p: RowPhases, victim: string, leaderOut: boolean, note: (text: string) => void): string[] {
  if (p.fault.some(({ e }) => ok(e) && e.sentAt > p.injectedAt)) return [];
  const lasted = p.healedAt - p.injectedAt;
  if (leaderOut && lasted < ELECTION_MAX_MS + 1000) {
    note(
      `nothing sent while ${victim} was out succeeded, not required: the fault lasted ${lasted} ms, less than ` +
        "a RAFT election may take (4–9 s), so the stream may have had no leader until it returned",
    );
    return [];
  }
  return [`no request sent while ${victim} was out succeeded (the other two are a quorum)`];
}

/** One core node SIGKILLed (by its part in the log stream) and restarted on its store. */
function coreKillRow(role: LogNodeRole): Row {
  let victim = "";
  let leaderOut = false;
  return {
    id: `core-kill-${role}`,
    title: `${KILLED[role].what} core nats-server SIGKILLed, restarted`,
    proves:
      `${KILLED[role].proves}; clients on the dead node reconnect to another; every receipt given is in the log; ` +
      "the node rejoins on its store",
    needs: ["core-kill"],
    async inject(c) {
      const cl = clusterOf(c.target);
      c.note(await placement(c));
      victim = await cl.logStreamNode(role);
      leaderOut = victim === (await leaderNow(c));
      if (leaderOut) c.stretchFault(LEADER_LOSS_FAULT_MS);
      await cl.killCoreNode(victim);
      c.note(`killed ${victim} (the ${role}${role !== "leader" && leaderOut ? ", and the leader" : ""})`);
    },
    async heal(c) {
      c.note(`the leader before the restart: ${await leaderNow(c)}`);
      await clusterOf(c.target).restartCoreNode(victim);
    },
    check: (p, { note }) => servedOn(p, victim, leaderOut, note),
  };
}

/** Two of three core nodes SIGKILLed: no quorum, so the log cannot take an entry and the bus must fail closed. */
function quorumLostRow(): Row {
  let down: string[] = [];
  return {
    id: "quorum-lost",
    title: "two of three core nats-servers SIGKILLed (quorum lost), one restarted",
    proves:
      "fail-closed: with no quorum no entry is durable, so no record is released (no request sent while quorum " +
      "was lost succeeded, and every receipt given is in the log); consumers get LOG_UNAVAILABLE; when one node " +
      "returns the bus serves again by itself",
    needs: ["core-kill"],
    outage: true,
    async inject(c) {
      const cl = clusterOf(c.target);
      c.note(await placement(c));
      down = [await cl.logStreamNode("follower"), await cl.logStreamNode("leader")];
      for (const name of down) await cl.killCoreNode(name);
      const left = cl.coreNodes.filter((n) => !down.includes(n));
      c.note(`killed ${down.join(" and ")}; ${left.join(", ")} left alone`);
    },
    async heal(c) {
      await clusterOf(c.target).restartCoreNode(down[0] ?? "");
      c.note(`restarted ${down[0]} only`);
    },
    async restore(c) {
      await clusterOf(c.target).restartCoreNode(down[1] ?? "");
    },
    check(p) {
      const problems: string[] = [];
      const released = p.fault.filter(({ e }) => ok(e) && e.sentAt >= p.injectedAt && e.doneAt <= p.healedAt);
      if (released.length > 0)
        problems.push(`${released.length} records were released for requests sent while quorum was lost`);
      const failed = p.fault.filter(({ e, r }) => r.expect === "allow" && !ok(e));
      if (!failed.some(({ e }) => reasonOf(e) === "LOG_UNAVAILABLE"))
        problems.push(
          `no LOG_UNAVAILABLE while quorum was lost (saw ${[...new Set(failed.map(({ e }) => e.outcome))].join(", ") || "none"})`,
        );
      return problems;
    },
  };
}

/** The log's stream leader frozen: its sockets stay open and say nothing, as behind a partition. */
function coreFreezeRow(): Row {
  let victim = "";
  return {
    id: "core-freeze",
    title: "the XBUS_LOG leader's core nats-server frozen (SIGSTOP: partitioned), thawed",
    proves:
      "a node cut off without closing a socket (as behind a network partition) is voted out: the other two " +
      "elect a leader and the bus serves on; when it returns it rejoins; no receipt lost, every head extends",
    needs: ["core-freeze"],
    async inject(c) {
      const cl = clusterOf(c.target);
      c.note(await placement(c));
      victim = await cl.logStreamNode("leader");
      c.stretchFault(LEADER_LOSS_FAULT_MS);
      await cl.freezeCoreNode(victim);
      c.note(`froze ${victim} (the leader)`);
    },
    async heal(c) {
      c.note(`the leader before the thaw: ${await leaderNow(c)}`);
      await clusterOf(c.target).thawCoreNode(victim);
    },
    check: (p, { note }) => servedOn(p, victim, true, note),
  };
}

/** Outcomes tallied, most first: "code 14 ×12, LOG_UNAVAILABLE ×3". */
function tally(events: readonly LoadEvent[]): string {
  const n = new Map<string, number>();
  for (const e of events) {
    const [code, reason] = e.outcome.split(":");
    const key = e.outcome === "OK" ? "OK" : reason && reason !== "-" ? reason : `code ${code}`;
    n.set(key, (n.get(key) ?? 0) + 1);
  }
  return (
    [...n]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ×${v}`)
      .join(", ") || "none"
  );
}

/** How long after a broker's restart its channels are watched before the first success ends the repair. */
const EVERY_CHANNEL_MS = 1_000;

/** How long a restarted broker's channels may take to serve again (gRPC's reconnect backoff grows to seconds). */
const RECONNECT_MAX_MS = 60_000;

/** The second broker SIGKILLed under load (the load's workers are spread over both), then started again on its port. */
function brokerKillRow(): Row {
  let victim = "";
  let at = -1;
  let killedAt = 0;
  let restartedAt = 0;
  /** The load's slot for its fail-over channel (faults/load.ts): one past the last broker. */
  let failoverSlot = -1;
  return {
    id: "broker-kill",
    title: "a broker (xbus broker) SIGKILLed, restarted on its port",
    proves:
      "the other broker carries its share of the load meanwhile; the killed broker's calls fail as UNAVAILABLE " +
      "and none of its records is released without a log entry; once it is back on its port the load's channels " +
      "reconnect and it serves again; every receipt it signed before the kill is in the log",
    needs: ["broker-kill"],
    async inject(c) {
      const cl = clusterOf(c.target);
      victim = cl.brokerIds.at(-1) ?? "";
      at = cl.brokerIds.indexOf(victim);
      failoverSlot = c.target.brokers.length;
      killedAt = Date.now();
      await cl.killBroker(victim);
      c.note(
        `killed ${victim} (${c.target.brokers[at]}); ${cl.brokerIds.filter((b) => b !== victim).join(", ")} left`,
      );
    },
    async heal(c) {
      const cl = clusterOf(c.target);
      const t0 = Date.now();
      await cl.restartBroker(victim);
      restartedAt = Date.now();
      c.note(
        `${victim} restarted on ${c.target.brokers[at]}: ready ${restartedAt - t0} ms after it was started`,
      );
      // The repair is done when the load's own channels to it serve again, not when it listens: every
      // consumer's channel, each of which reconnects on its own backoff (a channel still waiting fails its
      // calls at once, so it shows up here as failing until it has reconnected).
      const failing = new Set<number>();
      await c.waitFor((e, r) => {
        if (e.broker !== at || r.expect !== "allow" || e.sentAt < restartedAt) return false;
        if (!ok(e)) failing.add(r.consumer);
        else failing.delete(r.consumer);
        return ok(e) && failing.size === 0 && e.doneAt - restartedAt >= EVERY_CHANNEL_MS;
      }, RECONNECT_MAX_MS);
    },
    check(p, { note }) {
      const problems: string[] = [];
      const own = p.fault.filter(({ e }) => e.broker === at).map(({ e }) => e);
      const inFlight = own.filter((e) => e.sentAt < killedAt && e.doneAt >= killedAt);
      note(`calls in flight on ${victim} at the kill: ${inFlight.length} (${tally(inFlight)})`);
      const down = own.filter((e) => e.sentAt >= killedAt);
      note(`calls to ${victim} while it was down: ${tally(down)}`);
      const releasedDown = down.filter((e) => ok(e) && e.sentAt > p.injectedAt);
      if (releasedDown.length > 0)
        problems.push(`${releasedDown.length} calls to ${victim} succeeded while it was dead`);
      const failover = p.fault.filter(({ e }) => e.broker === failoverSlot);
      if (failover.length > 0) {
        problems.push(...checkFailover(failover, victim, killedAt, note));
        const back = p.after.filter(({ e }) => e.broker === failoverSlot && e.servedBy === victim).length;
        note(`after the restart, fail-over calls answered by ${victim} again: ${back}`);
      }
      const others = p.fault.filter(
        ({ e }) => e.broker !== at && e.broker !== failoverSlot && e.sentAt > p.injectedAt,
      );
      if (!others.some(({ e }) => ok(e)))
        problems.push("no call to the other broker succeeded while one was down");
      const otherFailed = others.filter(({ e, r }) => r.expect === "allow" && !ok(e)).map(({ e }) => e);
      if (otherFailed.length > 0)
        note(`calls to the other broker that failed meanwhile: ${tally(otherFailed)}`);
      // A deadline may pass on a loaded machine; any other failure there is the kill reaching the survivor.
      const unexplained = otherFailed.filter((e) => !e.outcome.startsWith("4:"));
      if (unexplained.length > 0)
        problems.push(`${unexplained.length} calls to the surviving broker failed (${tally(unexplained)})`);
      const back = p.after
        .filter(({ e, r }) => e.broker === at && r.expect === "allow" && ok(e) && e.sentAt >= restartedAt)
        .map(({ e }) => e.doneAt)
        .sort((a, b) => a - b)[0];
      if (back === undefined)
        problems.push(`the load's channels to ${victim} did not serve again after its restart`);
      else
        note(
          `the load's first success through ${victim} came ${back - restartedAt} ms after it was ready again`,
        );
      const signedBefore = [...p.before, ...p.fault].filter(
        ({ e }) => e.broker === at && ok(e) && e.doneAt < killedAt,
      ).length;
      note(
        `${signedBefore} receipts signed by ${victim} in the row before the kill, audited with the row's others`,
      );
      return problems;
    },
  };
}

/** How long after a broker's death a fail-over channel may still send a call to it (its socket's close unseen). */
const FAILOVER_NOTICE_MS = 1_000;

/**
 * The fail-over channel's calls (round_robin over both brokers) in the broker-kill row: those in flight on
 * the victim at the kill may fail; any sent a moment later must not fail but by a deadline, and some must
 * have succeeded (through the other broker, as the note's count by receipt signer shows).
 */
function checkFailover(
  calls: readonly { e: LoadEvent; r: LoadRequest }[],
  victim: string,
  killedAt: number,
  note: (s: string) => void,
): string[] {
  const allowed = calls.filter(({ r }) => r.expect === "allow").map(({ e }) => e);
  const atKill = allowed.filter((e) => e.sentAt < killedAt + FAILOVER_NOTICE_MS && e.doneAt >= killedAt);
  const later = allowed.filter((e) => e.sentAt >= killedAt + FAILOVER_NOTICE_MS);
  const byBroker = new Map<string, number>();
  for (const e of later) if (e.servedBy) byBroker.set(e.servedBy, (byBroker.get(e.servedBy) ?? 0) + 1);
  note(
    `fail-over channel (round_robin over both brokers), allowed calls: ${atKill.length} around the kill (${tally(atKill)}); ` +
      `${later.length} sent from ${FAILOVER_NOTICE_MS} ms after it (${tally(later)}), answered by ${
        [...byBroker].map(([b, n]) => `${b} ×${n}`).join(", ") || "none"
      }`,
  );
  // A deadline may pass on a loaded machine; any other failure is the channel not failing over.
  const failedLater = later.filter((e) => !ok(e) && !e.outcome.startsWith("4:"));
  if (failedLater.length > 0)
    return [
      `${failedLater.length} calls on the fail-over channel failed after ${victim}'s death (${tally(failedLater)})`,
    ];
  if (!later.some(ok)) return ["no call on the fail-over channel succeeded while a broker was down"];
  return [];
}

/** How long the standby is waited for to take the signer's lease (the lease is 3 s; a loaded machine is slow). */
const TAKEOVER_MAX_MS = 60_000;

/** The log service that signs tree heads SIGKILLed: the standby must take the lease over and sign on. */
function logServiceKillRow(): Row {
  let victim = "";
  let killedAt = 0;
  let sizeAtKill = 0;
  let takeover: { name: string; at: number } | undefined;
  let firstHead: Promise<{ size: number; at: number } | undefined> = Promise.resolve(undefined);
  return {
    id: "log-service-kill",
    title: "the signing log service (xbus log serve) SIGKILLed, restarted",
    proves:
      "the standby takes the signer's lease once it lapses and signs on from its own index: signed heads keep " +
      "extending the ones before, every receipt is in a signed head; the bus serves throughout (appends do not " +
      "need a signer); the restarted service stands by",
    needs: ["log-service-kill"],
    async inject(c) {
      const cl = clusterOf(c.target);
      victim = await cl.signer(TAKEOVER_MAX_MS);
      sizeAtKill = (await c.target.review.get<TreeHeadJson>("/v1/log/tree-head")).tree_size;
      killedAt = Date.now();
      await cl.killLogService(victim);
      c.note(`killed ${victim}, the signer; the signed head was of size ${sizeAtKill}`);
      // The first signed head beyond the one at the kill, polled every 200 ms (through the other's review API).
      firstHead = (async () => {
        while (Date.now() < killedAt + TAKEOVER_MAX_MS) {
          const head = await c.target.review.get<TreeHeadJson>("/v1/log/tree-head").catch(() => undefined);
          if (head && head.tree_size > sizeAtKill) return { size: head.tree_size, at: Date.now() };
          await new Promise((r) => setTimeout(r, 200));
        }
        return undefined;
      })();
    },
    async heal(c) {
      const cl = clusterOf(c.target);
      // Waited for before the restart: the restarted one must not simply take its own lease back.
      takeover = await cl.signerTakeover(victim, killedAt, TAKEOVER_MAX_MS);
      if (takeover)
        c.note(`${takeover.name} took the signer's lease ${takeover.at - killedAt} ms after the kill`);
      const head = await firstHead;
      if (head)
        c.note(
          `the first head signed after the kill (size ${head.size}) was seen ${head.at - killedAt} ms after it`,
        );
      else
        c.note(`no signed head beyond size ${sizeAtKill} was seen within ${TAKEOVER_MAX_MS} ms of the kill`);
      await cl.restartLogService(victim);
      const until = Date.now() + 30_000;
      while (cl.logServiceRole(victim) === undefined && Date.now() < until)
        await new Promise((r) => setTimeout(r, 100));
      c.note(`${victim} restarted; it says it is ${cl.logServiceRole(victim) ?? "nothing yet"}`);
    },
    check() {
      return takeover
        ? []
        : [`no other log service took the signer's lease within ${TAKEOVER_MAX_MS} ms of the kill`];
    },
  };
}

/** Every row this harness knows, in the order a full run takes them (revocation last: it cannot be undone). */
export const ROWS: readonly Row[] = [
  {
    id: "nats-kill",
    title: "nats-server SIGKILLed, restarted",
    proves:
      "fail-closed: while the log's store is gone no record is released (every success's receipt is in the log), " +
      "consumers get UNAVAILABLE (LOG_UNAVAILABLE), and the bus serves again by itself when NATS is back",
    needs: ["nats-kill"],
    outage: true,
    inject: (c) => c.target.killNats(),
    heal: (c) => c.target.restartNats(),
    check(p) {
      const problems: string[] = [];
      const failed = p.fault.filter(({ e, r }) => r.expect === "allow" && !ok(e));
      if (failed.length === 0) problems.push("no request failed while nats-server was down");
      const unclear = failed.filter(({ e }) => !e.outcome.startsWith("14:") && !e.outcome.startsWith("4:"));
      if (unclear.length > 0)
        problems.push(`${unclear.length} failures while down were not UNAVAILABLE or DEADLINE_EXCEEDED`);
      return problems;
    },
  },
  {
    id: "connector-kill-one",
    title: `one ${VICTIM} connector SIGKILLed, restarted`,
    proves: "the other connector in the agency's queue group carries the agency's requests",
    needs: ["connector-kill"],
    inject: (c) => c.target.killConnector(VICTIM, 0),
    heal: (c) => c.target.startConnector(VICTIM, 0),
    check(p) {
      const served = p.fault.filter(({ e, r }) => agencyOf(r) === VICTIM && ok(e)).length;
      return served > 0 ? [] : [`no ${VICTIM} request succeeded while one of its connectors was down`];
    },
  },
  {
    id: "connector-kill-all",
    title: `all ${VICTIM} connectors SIGKILLed, restarted`,
    proves:
      "the agency's requests fail with PROVIDER_UNAVAILABLE, the other agencies are served, and the agency is " +
      "served again once a connector returns",
    needs: ["connector-kill"],
    outage: true,
    async inject(c) {
      for (let i = 0; i < c.target.connectorsPerAgency; i++) await c.target.killConnector(VICTIM, i);
    },
    async heal(c) {
      for (let i = 0; i < c.target.connectorsPerAgency; i++) await c.target.startConnector(VICTIM, i);
    },
    check: agencyDownCheck,
  },
  {
    id: "adapter-hang",
    title: "moe adapter hangs",
    proves:
      "calls to a hung adapter end at their deadline (DEADLINE_EXCEEDED); the other agencies are served",
    needs: ["adapter-fault"],
    outage: true,
    inject: (c) => c.target.adapterFault("moe", { kind: "hang" }),
    heal: (c) => c.target.adapterFault("moe", { kind: "none" }),
    check(p) {
      const problems: string[] = [];
      const moe = p.fault.filter(
        ({ e, r }) => e.sentAt > p.injectedAt && agencyOf(r) === "moe" && r.expect === "allow",
      );
      if (moe.some(({ e }) => ok(e))) problems.push("a moe request succeeded while its adapter hung");
      // The consumer's own deadline may fire first: gRPC code 4 without the broker's reason.
      if (!moe.some(({ e }) => e.outcome.startsWith("4:")))
        problems.push(
          `no moe request ended with DEADLINE_EXCEEDED (saw ${[...new Set(moe.map(({ e }) => e.outcome))].join(", ")})`,
        );
      if (!p.fault.some(({ e, r }) => agencyOf(r) !== "moe" && ok(e)))
        problems.push("no other agency was served");
      return problems;
    },
  },
  {
    id: "adapter-slow",
    title: "every adapter answers slowly (+ baseline p99)",
    proves: "a slow provider slows only its own answers (p99 rises by about the delay); nothing fails",
    needs: ["adapter-fault"],
    async inject(c) {
      const delayMs = Math.max(10, Math.round(c.baselineP99()));
      c.note(`each adapter call delayed ${delayMs} ms (the baseline p99)`);
      for (const a of c.target.agencies) await c.target.adapterFault(a, { kind: "slow", delayMs });
    },
    async heal(c) {
      for (const a of c.target.agencies) await c.target.adapterFault(a, { kind: "none" });
    },
  },
  {
    id: "adapter-garbage",
    title: "rsta adapter answers garbage",
    proves:
      "a record that does not decode is refused (PROVIDER_BAD_RECORD) and never released or logged as released",
    needs: ["adapter-fault"],
    inject: (c) => c.target.adapterFault("rsta", { kind: "garbage" }),
    heal: (c) => c.target.adapterFault("rsta", { kind: "none" }),
    expected: (e, r) => agencyOf(r) === "rsta" && reasonOf(e) === "PROVIDER_BAD_RECORD",
    check(p) {
      const rsta = p.fault.filter(
        ({ e, r }) => e.sentAt > p.injectedAt && agencyOf(r) === "rsta" && r.expect === "allow",
      );
      const problems: string[] = [];
      if (rsta.some(({ e }) => ok(e)))
        problems.push("an rsta record was released while its adapter sent garbage");
      if (!rsta.some(({ e }) => reasonOf(e) === "PROVIDER_BAD_RECORD"))
        problems.push("no rsta request ended with PROVIDER_BAD_RECORD");
      return problems;
    },
  },
  {
    id: "log-full",
    title: "JetStream log stream full (max_bytes)",
    proves:
      "when the log's stream is full, exchanges fail with LOG_UNAVAILABLE and no record is released; nothing is " +
      "half-written (every entry decodes, every receipt is in the log); raising max_bytes brings the bus back",
    needs: ["sized-log"],
    fresh: { logMaxBytes: 256 * 1024 },
    outage: true,
    async inject(c) {
      // The fault is the load itself filling the stream: it starts at the first refused append.
      const full = await c.waitFor((e) => reasonOf(e) === "LOG_UNAVAILABLE", 180_000);
      if (!full) throw new Error("the log stream did not fill within 180 s");
    },
    heal: (c) => c.target.growLog(64 * 1024 * 1024),
    check(p) {
      const full = p.fault.filter(({ e }) => !ok(e));
      const problems: string[] = [];
      if (!full.some(({ e }) => reasonOf(e) === "LOG_UNAVAILABLE"))
        problems.push("no LOG_UNAVAILABLE while full");
      const other = full.filter(({ e, r }) => r.expect === "allow" && reasonOf(e) !== "LOG_UNAVAILABLE");
      if (other.length > 0) problems.push(`${other.length} failures while full were not LOG_UNAVAILABLE`);
      return problems;
    },
  },
  coreKillRow("follower"),
  coreKillRow("leader"),
  coreKillRow("indexer"),
  coreFreezeRow(),
  brokerKillRow(),
  logServiceKillRow(),
  {
    id: "leaf-kill",
    title: `the ${VICTIM} leaf nats-server SIGKILLed, restarted`,
    proves:
      `${VICTIM}'s services fail at once with PROVIDER_UNAVAILABLE (its connectors are behind its leaf), the other ` +
      "agencies are served, and once the leaf returns its connectors reconnect and it is served again",
    needs: ["leaf-kill"],
    outage: true,
    inject: (c) => clusterOf(c.target).killLeaf(VICTIM),
    heal: (c) => clusterOf(c.target).restartLeaf(VICTIM),
    check: agencyDownCheck,
  },
  quorumLostRow(),
  {
    id: "cert-revoked",
    title: "a consumer certificate revoked mid-load",
    proves:
      "the revoked certificate is refused (CERT_REVOKED) on its open connection at the next request; the same " +
      "system's other certificate and every other consumer carry on",
    needs: ["revoke"],
    inject: (c) => c.target.revokeConsumer("licensing-b"),
    async heal() {},
    expected: (e, _r, consumer) => consumer === "licensing-b" && e.outcome !== "OK",
    check(p, { consumerName }) {
      const problems: string[] = [];
      const revoked = p.fault.filter(
        ({ e, r }) => e.sentAt > p.injectedAt && consumerName(r) === "licensing-b",
      );
      if (revoked.some(({ e }) => ok(e)))
        problems.push("the revoked certificate was served after the revocation");
      if (!revoked.some(({ e }) => reasonOf(e) === "CERT_REVOKED"))
        problems.push("no CERT_REVOKED for the revoked certificate");
      if (!p.fault.some(({ e, r }) => e.sentAt > p.injectedAt && consumerName(r) === "licensing" && ok(e)))
        problems.push("the licensing system's other certificate was not served");
      return problems;
    },
  },
];
