import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

/**
 * Runs a real nats-server as a child process, on a free port, with JetStream
 * in a temporary folder: for `xbus dev`, the tests and the benchmark. The same
 * instance can be stopped and started again on the same port and store, so
 * tests can take NATS away and bring it back.
 */
export interface NatsServerOptions {
  /** Extra nats-server configuration (TLS, authorization, …) appended to the generated file. */
  extraConfig?: string;
  /**
   * A whole configuration instead of the generated listener and JetStream lines (a cluster node
   * rendered from deploy/nats/core.conf, say): it must fix its own ports, so that a restart finds
   * them again. `extraConfig` and `ports_file_dir` are still appended.
   */
  config?: string;
  /** Folder for the config, JetStream store and ports file; a new temp folder by default. */
  dir?: string;
  /** Print the server's own log lines. */
  verbose?: boolean;
  /** Serve nats-server's monitoring endpoints (`/connz`, …) on a free loopback port: `monitorUrl`. */
  monitor?: boolean;
  /** JetStream's file store limit (`max_file_store`) in bytes; 2 GiB by default. */
  maxFileStoreBytes?: number;
}

export class NatsServerNotFoundError extends Error {
  override readonly name = "NatsServerNotFoundError";
  constructor() {
    super(
      "nats-server was not found on PATH (or in NATS_SERVER_BIN). Install it: " +
        "Debian/Ubuntu `apt-get install nats-server`, macOS `brew install nats-server`.",
    );
  }
}

export function findNatsServer(): string {
  const fromEnv = process.env.NATS_SERVER_BIN;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const dirs = [
    ...(process.env.PATH ?? "").split(delimiter),
    "/usr/sbin",
    "/usr/local/sbin",
    "/usr/local/bin",
  ];
  for (const dir of dirs) {
    const candidate = join(dir, "nats-server");
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new NatsServerNotFoundError();
}

export class NatsServer {
  readonly dir: string;
  private child: ChildProcess | undefined;
  private port = -1;
  private monitorPort = -1;
  private readonly ownsDir: boolean;
  private configText: string | undefined;

  private constructor(
    private readonly bin: string,
    private readonly options: NatsServerOptions,
  ) {
    this.ownsDir = options.dir === undefined;
    this.configText = options.config;
    this.dir = options.dir ?? mkdtempSync(join(tmpdir(), "xbus-nats-"));
  }

  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const server = new NatsServer(findNatsServer(), options);
    await server.restart();
    return server;
  }

  /** An instance that has not started yet: its folder exists, so a config can name files in it. */
  static async create(options: NatsServerOptions = {}): Promise<NatsServer> {
    return new NatsServer(findNatsServer(), options);
  }

  /** Replaces the whole configuration (NatsServerOptions.config) from the next (re)start on. */
  configure(config: string): void {
    this.configText = config;
  }

  /** `nats://127.0.0.1:PORT` */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** `tls://localhost:PORT`: the name a loopback server certificate carries (LOOPBACK), for clients that check it. */
  get tlsUrl(): string {
    return `tls://localhost:${this.port}`;
  }

  /** `http://127.0.0.1:PORT` of the monitoring endpoints; undefined unless the options asked for them. */
  get monitorUrl(): string | undefined {
    return this.options.monitor ? `http://127.0.0.1:${this.monitorPort}` : undefined;
  }

  /** The process id while it runs (for `nats-server --signal reload=PID`). */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the server again (after stop), on the same port and JetStream store. */
  async restart(): Promise<void> {
    if (this.running) return;
    const config = join(this.dir, "nats.conf");
    const base =
      this.configText ??
      [
        `listen: "127.0.0.1:${this.port}"`,
        `jetstream { store_dir: ${JSON.stringify(join(this.dir, "js"))}, max_memory_store: 256MB, max_file_store: ${
          this.options.maxFileStoreBytes ?? "2GB"
        } }`,
        this.options.monitor ? `http: "127.0.0.1:${this.monitorPort}"` : "",
      ].join("\n");
    writeFileSync(
      config,
      [base, `ports_file_dir: ${JSON.stringify(this.dir)}`, this.options.extraConfig ?? ""].join("\n"),
    );
    for (const f of readdirSync(this.dir)) if (f.endsWith(".ports")) rmSync(join(this.dir, f));
    // Its own process group: a Ctrl-C meant for `xbus dev` must not stop NATS before the components that use it.
    const child = spawn(this.bin, ["-c", config], { stdio: ["ignore", "ignore", "pipe"], detached: true });
    this.child = child;
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      if (this.options.verbose) process.stderr.write(d);
      if (stderr.length < 8192) stderr += d.toString();
    });
    const portsFile = join(this.dir, `nats-server_${child.pid}.ports`);
    const started = Date.now();
    while (!existsSync(portsFile)) {
      if (child.exitCode !== null)
        throw new Error(`nats-server exited (${child.exitCode}): ${stderr.trim()}`);
      if (Date.now() - started > 15_000) {
        child.kill("SIGKILL");
        throw new Error(`nats-server did not start within 15 s: ${stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    // The ports file is written once the listeners are up; read until it is complete JSON.
    for (;;) {
      try {
        const ports = JSON.parse(readFileSync(portsFile, "utf8")) as {
          nats: string[];
          monitoring?: string[];
        };
        const first = ports.nats[0];
        if (!first) throw new Error("no client port");
        const monitoring = ports.monitoring?.[0];
        if (this.options.monitor && !monitoring) throw new Error("no monitoring port");
        this.port = Number(new URL(first).port);
        if (monitoring) this.monitorPort = Number(new URL(monitoring).port);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Stops the server; the folder stays so that `restart` finds the same store. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** SIGKILL: the server dies as a crashed machine's would, with no goodbye to its peers. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }

  /** SIGHUP, which is what `nats-server --signal reload=PID` sends: re-read the config file. */
  reload(): void {
    if (!this.running) throw new Error("nats-server is not running: nothing to reload");
    this.child?.kill("SIGHUP");
  }

  /** Stops the server and removes its folder if this instance made it. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
