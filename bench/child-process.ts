import type { ChildProcess } from "node:child_process";

/** A child process that answers one message at a time. */
export class Child {
  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {}

  private get gone(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  /**
   * The child's next message. Each call adds its own listeners and takes them off when it settles: an
   * earlier version raced the reply against one promise of the child's exit, and every race left a
   * reaction on that never-settled promise holding its reply, so a harness asking every 500 ms kept every
   * answer it was ever given (the fault soak's "broker leak", ~280 bytes per call, was that).
   */
  next<T>(timeoutMs?: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.gone) {
        reject(new Error(`${this.name} exited (${this.proc.signalCode ?? this.proc.exitCode})`));
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        clearTimeout(timer);
        this.proc.off("message", onMessage);
        this.proc.off("exit", onExit);
      };
      const onMessage = (m: unknown) => {
        settle();
        resolve(m as T);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        settle();
        reject(new Error(`${this.name} exited (${signal ?? code})`));
      };
      this.proc.on("message", onMessage);
      this.proc.on("exit", onExit);
      if (timeoutMs !== undefined)
        timer = setTimeout(() => {
          settle();
          reject(new Error(`${this.name} did not answer in ${timeoutMs} ms`));
        }, timeoutMs);
    });
  }

  ask<T>(message: unknown, timeoutMs?: number): Promise<T> {
    const r = this.next<T>(timeoutMs);
    // A child that has gone rejects the call above; a send on its closed channel would only add an error event.
    if (!this.gone) this.proc.send(message as never, (err) => err && void 0);
    return r;
  }

  async stop(): Promise<void> {
    if (this.gone) return;
    const gone = new Promise<void>((r) => this.proc.once("exit", () => r()));
    this.proc.send({ type: "stop" });
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 15_000);
    await gone;
    clearTimeout(timer);
  }
}
