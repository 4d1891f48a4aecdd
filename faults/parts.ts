import { type ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { Child } from "../bench/child-process.js";
import { DEV_CONSUMER, DEV_LICENSING, DEV_PORTAL, type Stack } from "../stack/index.js";
import type { AdapterFault, ProviderConfig, ProviderReply } from "./protocol.js";
import type { Target, TargetProcess } from "./target.js";

/**
 * What every target of the harness has alike, whatever its topology: the
 * consumer certificates the load presents, and the agencies' connectors in
 * processes of their own (faults/provider.ts), two per agency in its queue group.
 */
export const CONNECTORS_PER_AGENCY = 2;
const PROVIDER_READY_MS = 60_000;

/** faults/policies, found from the sources (tsx) and from the compiled dist/faults alike. */
function findPolicies(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    const candidate = join(dir, "faults", "policies");
    if (existsSync(join(candidate, "faults.yaml"))) return candidate;
  }
  throw new Error(`faults/policies/faults.yaml not found above ${import.meta.dirname}`);
}
export const FAULT_POLICIES = findPolicies();

/** Forks one of the harness's scripts (a sibling of this file): compiled `.js`, or `.ts` through tsx in tests. */
export function forkScript(name: string, logFd: number | "inherit"): ChildProcess {
  const ts = import.meta.filename.endsWith(".ts");
  return fork(join(import.meta.dirname, `${name}${ts ? ".ts" : ".js"}`), [], {
    execArgv: ts ? ["--import", "tsx"] : [],
    serialization: "advanced",
    stdio: ["ignore", logFd, logFd, "ipc"],
  });
}

/**
 * The load's consumers: the stack's three systems, and a second certificate of the licensing system
 * (so that one can be revoked while the other carries on), with the serials of the revocable ones.
 */
export function faultConsumers(stack: Stack): {
  consumers: Target["consumers"];
  serials: ReadonlyMap<string, string>;
} {
  const revocable = stack.issueIdentity("consumer-licensing-b", {
    role: "system",
    spiffeId: DEV_LICENSING,
    commonName: "rsta licensing, second certificate (faults)",
    renew: true,
  });
  const consumerOf = (name: string, spiffeId: string) => {
    const c = stack.consumers.find((x) => x.spiffeId === spiffeId);
    if (!c) throw new Error(`the stack issued no certificate for ${spiffeId}`);
    return { name, spiffeId: c.spiffeId, cert: c.cert, key: c.key };
  };
  return {
    consumers: [
      consumerOf("scholarships", DEV_CONSUMER),
      consumerOf("licensing", DEV_LICENSING),
      consumerOf("portal", DEV_PORTAL),
      { name: "licensing-b", spiffeId: DEV_LICENSING, cert: revocable.cert, key: revocable.key },
    ],
    serials: new Map([["licensing-b", revocable.serial]]),
  };
}

/** The agencies' connector processes: started, SIGKILLed and told to fault by agency and instance. */
export function providerPool(configOf: (agency: string, instance: number) => ProviderConfig, logFd: number) {
  const providers = new Map<string, Child>();
  const alive = (c: Child | undefined) =>
    c !== undefined && c.proc.exitCode === null && c.proc.signalCode === null;
  const live = () => [...providers.entries()].filter(([, c]) => alive(c));
  const start = async (agency: string, instance: number) => {
    const key = `${agency}-${instance}`;
    if (alive(providers.get(key))) return;
    const child = new Child(`connector ${key}`, forkScript("provider", logFd));
    const ready = await child.ask<ProviderReply>(
      { type: "start", config: configOf(agency, instance) },
      PROVIDER_READY_MS,
    );
    if (ready.type !== "ready") {
      await child.stop();
      throw new Error(
        `connector ${key} did not start: ${ready.type === "failed" ? ready.message : ready.type}`,
      );
    }
    providers.set(key, child);
  };
  return {
    start,
    async startAll(agencies: readonly string[]) {
      for (const agency of agencies) for (let i = 0; i < CONNECTORS_PER_AGENCY; i++) await start(agency, i);
    },
    async kill(agency: string, instance: number) {
      const c = providers.get(`${agency}-${instance}`);
      if (!c || !alive(c)) return;
      const gone = new Promise<void>((r) => c.proc.once("exit", () => r()));
      c.proc.kill("SIGKILL");
      await gone;
    },
    async fault(agency: string, fault: AdapterFault) {
      for (const [key, c] of live())
        if (key.startsWith(`${agency}-`)) {
          const r = await c.ask<ProviderReply>({ type: "fault", fault }, 10_000);
          if (r.type !== "ok") throw new Error(`connector ${key} did not take the fault`);
        }
    },
    processes(): TargetProcess[] {
      const out: TargetProcess[] = [];
      for (const [key, c] of live()) {
        const [agency, instance] = key.split("-");
        if (c.proc.pid !== undefined)
          out.push({
            name: `connector ${key}`,
            pid: c.proc.pid,
            natsNames: [`xbus-connector-${agency}-faults-${instance}`],
          });
      }
      return out;
    },
    async stopAll() {
      for (const [, c] of live()) await c.stop();
    },
  };
}

/** Revokes a consumer's revocable certificate (faultConsumers) in the stack's CA and makes every holder re-read the CRL. */
export function revokeIn(stack: Stack, serials: ReadonlyMap<string, string>, name: string): void {
  const serial = serials.get(name);
  if (!serial) throw new Error(`consumer ${name} has no revocable certificate here`);
  stack.caDir.revoke({ serial }, "keyCompromise");
  stack.reloadCrl();
}

/** The names of the client connections a nats-server's monitor lists (/connz). */
export async function connectionNames(monitorUrl: string): Promise<string[]> {
  const res = await fetch(`${monitorUrl}/connz?limit=4096`);
  return (
    ((await res.json()) as { connections?: { name?: string }[] }).connections?.map((c) => c.name ?? "") ?? []
  );
}

/**
 * The leaf nodes a nats-server serves now (its /leafz), each named by the agency whose service subjects it
 * carries (`xbus.svc.<agency>.…`), else by what nats-server reports (2.9 reports no server name).
 */
export async function leafNames(monitorUrl: string): Promise<string[]> {
  const res = await fetch(`${monitorUrl}/leafz?subs=1`);
  type Leaf = { name?: string; account?: string; subscriptions_list?: string[] };
  const leafs = ((await res.json()) as { leafs?: Leaf[] }).leafs ?? [];
  return leafs.map((l) => {
    const agency = (l.subscriptions_list ?? [])
      .map((s) => /^xbus\.svc\.([a-z0-9-]+)\./.exec(s)?.[1])
      .find((a) => a !== undefined);
    return agency ?? (l.name || l.account || "?");
  });
}
