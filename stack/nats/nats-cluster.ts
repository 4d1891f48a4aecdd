import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { repoFolder } from "../repo-files.js";
import type { NatsTlsFiles } from "./nats-auth.js";
import { NatsServer } from "./nats-server.js";

/**
 * The federation's core on loopback: N nats-servers with JetStream, clustered
 * over mutual-TLS routes, each with a leaf-node listener, and agencies' leaf
 * nats-servers that dial out to them. Each node's config is the operator's
 * example (deploy/nats/core.conf, deploy/nats/leaf.conf) with loopback ports
 * and this run's files put in, so the tests run what an operator deploys.
 * Users are in the include file next to each config (`core-auth.conf`,
 * `leaf-<agency>-auth.conf`): rewrite it and `reload()` to change who gets in.
 */
export interface CoreClusterOptions {
  /** Number of nodes; default 3. */
  size?: number;
  /** The server certificate nodes show clients and leaf nodes. */
  tls: NatsTlsFiles;
  /** The route certificate (role `route`), the same SPIFFE ID on every node. */
  routeTls: NatsTlsFiles;
  /** The SPIFFE ID in the route certificate. */
  routeUser: string;
  /** `core-auth.conf`: the users (natsUsersConfig). */
  auth: string;
  /** One folder per node (config, JetStream store); temp folders by default. */
  dirs?: readonly string[];
  /** Serve each node's monitoring endpoints on a loopback port. */
  monitor?: boolean;
  verbose?: boolean;
}

export interface CoreCluster {
  readonly nodes: readonly NatsServer[];
  /** Client URLs of every node, `nats://127.0.0.1:PORT`. */
  readonly urls: readonly string[];
  /** Leaf-node URLs of every node, `tls://localhost:PORT`. */
  readonly leafUrls: readonly string[];
  /** Writes `core-auth.conf` on every node; `reload()` puts it in force. */
  writeAuth(auth: string): void;
  /** SIGHUP to every running node (`nats-server --signal reload`). */
  reload(): void;
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Free loopback ports, held until all are found so that none is handed out twice. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import("node:net").Server>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === "string") throw new Error("no port");
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * The example's text with each `[from, to]` replaced everywhere; a `from` the
 * example no longer holds is an error, so the tests notice when deploy/ changes.
 */
export function renderExample(name: string, replacements: readonly (readonly [string, string])[]): string {
  let text = readFileSync(join(repoFolder("deploy", "nats/core.conf"), "nats", name), "utf8");
  for (const [from, to] of replacements) {
    if (!text.includes(from))
      throw new Error(`deploy/nats/${name} no longer contains ${JSON.stringify(from)}`);
    text = text.replaceAll(from, to);
  }
  return text;
}

const EXAMPLE_ROUTES = [
  '"nats-route://nats1.xbus.gov.bt:6222"',
  '    "nats-route://nats2.xbus.gov.bt:6222"',
  '    "nats-route://nats3.xbus.gov.bt:6222"',
].join("\n");

const tlsReplacements = (tls: NatsTlsFiles, cert: string, key: string): [string, string][] => [
  [`"/etc/xbus/nats/${cert}"`, JSON.stringify(tls.certFile)],
  [`"/etc/xbus/nats/${key}"`, JSON.stringify(tls.keyFile)],
];

export async function startCoreCluster(o: CoreClusterOptions): Promise<CoreCluster> {
  const size = o.size ?? 3;
  if (!Number.isInteger(size) || size < 1) throw new Error(`a cluster needs at least one node, not ${size}`);
  const ports = await freePorts(size * 4);
  const at = (i: number, k: number) => ports[i * 4 + k] as number;
  const routes = Array.from({ length: size }, (_, i) => JSON.stringify(`nats-route://127.0.0.1:${at(i, 1)}`));
  const nodes: NatsServer[] = [];
  const configOf = (i: number) =>
    renderExample("core.conf", [
      ['server_name: "nats1"', `server_name: "xbus-n${i + 1}"`],
      ['"0.0.0.0:4222"', `"127.0.0.1:${at(i, 0)}"`],
      ['"0.0.0.0:6222"', `"127.0.0.1:${at(i, 1)}"`],
      ['"0.0.0.0:7422"', `"127.0.0.1:${at(i, 2)}"`],
      ['http: "127.0.0.1:8222"', o.monitor ? `http: "127.0.0.1:${at(i, 3)}"` : ""],
      ['"/var/lib/nats/jetstream"', JSON.stringify(join(nodes[i]?.dir ?? "", "js"))],
      ["max_memory_store: 1GB", "max_memory_store: 256MB"],
      ["max_file_store: 500GB", "max_file_store: 2GB"],
      ...tlsReplacements(o.tls, "server.pem", "server-key.pem"),
      ...tlsReplacements(o.routeTls, "route.pem", "route-key.pem"),
      ['"/etc/xbus/nats/federation-ca.pem"', JSON.stringify(o.tls.caFile)],
      ["spiffe://gov.bt/xbus/route/core", o.routeUser],
      [EXAMPLE_ROUTES, routes.join("\n    ")],
    ]);
  const dispose = async () => {
    await Promise.all(nodes.map((n) => n.dispose()));
  };
  const writeAuth = (auth: string) => {
    for (const n of nodes) writeFileSync(join(n.dir, "core-auth.conf"), auth);
  };
  try {
    // Every node starts at once: JetStream waits for its peers before it elects a meta leader.
    const created = await Promise.all(
      Array.from({ length: size }, (_, i) =>
        NatsServer.create({
          ...(o.dirs?.[i] ? { dir: o.dirs[i] } : {}),
          ...(o.verbose ? { verbose: true } : {}),
          ...(o.monitor ? { monitor: true } : {}),
        }),
      ),
    );
    nodes.push(...created);
    writeAuth(o.auth);
    nodes.forEach((n, i) => {
      n.configure(configOf(i));
    });
    await Promise.all(nodes.map((n) => n.restart()));
  } catch (err) {
    await dispose();
    throw err;
  }
  return {
    nodes,
    urls: nodes.map((_, i) => `nats://127.0.0.1:${at(i, 0)}`),
    leafUrls: nodes.map((_, i) => `tls://localhost:${at(i, 2)}`),
    writeAuth,
    reload() {
      for (const n of nodes) if (n.running) n.reload();
    },
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}

export interface LeafNodeOptions {
  agency: string;
  /** The certificate the leaf shows the agency's connectors (role `server`). */
  tls: NatsTlsFiles;
  /** The leaf's own identity towards the core (role `leaf`). */
  leafTls: NatsTlsFiles;
  /** The core's leaf-node URLs (CoreCluster.leafUrls). */
  core: readonly string[];
  /** `leaf-<agency>-auth.conf`: the agency's connectors (leafUsersConfig). */
  auth: string;
  dir?: string;
  verbose?: boolean;
}

const EXAMPLE_REMOTES = [
  '"tls://nats1.xbus.gov.bt:7422"',
  '        "tls://nats2.xbus.gov.bt:7422"',
  '        "tls://nats3.xbus.gov.bt:7422"',
].join("\n");

/** An agency's leaf nats-server on a free loopback port, dialing the core. */
export async function startLeafNode(o: LeafNodeOptions): Promise<NatsServer> {
  const [port] = await freePorts(1);
  const node = await NatsServer.create({
    ...(o.dir ? { dir: o.dir } : {}),
    ...(o.verbose ? { verbose: true } : {}),
  });
  try {
    const authFile = `leaf-${o.agency}-auth.conf`;
    writeFileSync(join(node.dir, authFile), o.auth);
    node.configure(
      renderExample("leaf.conf", [
        ['server_name: "leaf-dcrc"', `server_name: ${JSON.stringify(`leaf-${o.agency}`)}`],
        ['"10.20.0.5:4222"', `"127.0.0.1:${port}"`],
        ...tlsReplacements(o.tls, "leaf-server.pem", "leaf-server-key.pem"),
        ...tlsReplacements(o.leafTls, "leaf.pem", "leaf-key.pem"),
        ['"/etc/xbus/nats/federation-ca.pem"', JSON.stringify(o.tls.caFile)],
        ["reconnect: 2", "reconnect: 1"],
        [EXAMPLE_REMOTES, o.core.map((u) => JSON.stringify(u)).join("\n        ")],
        ['include "leaf-dcrc-auth.conf"', `include ${JSON.stringify(authFile)}`],
      ]),
    );
    await node.restart();
    return node;
  } catch (err) {
    await node.dispose();
    throw err;
  }
}
