import type { ChildProcess } from "node:child_process";

/** A child process that answers one message at a time. */
export class Child {
  private readonly exited: Promise<never>;
  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    this.exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code, signal) => reject(new Error(`${name} exited (${signal ?? code})`))),
    );
    this.exited.catch(() => {});
  }

  next<T>(timeoutMs?: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const reply = new Promise<T>((resolveReply, reject) => {
      this.proc.once("message", (m) => resolveReply(m as T));
      if (timeoutMs !== undefined)
        timer = setTimeout(
          () => reject(new Error(`${this.name} did not answer in ${timeoutMs} ms`)),
          timeoutMs,
        );
    });
    return Promise.race([reply, this.exited]).finally(() => clearTimeout(timer));
  }

  ask<T>(message: unknown, timeoutMs?: number): Promise<T> {
    const r = this.next<T>(timeoutMs);
    this.proc.send(message as never);
    return r;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => this.proc.once("exit", () => r()));
    this.proc.send({ type: "stop" });
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 15_000);
    await gone;
    clearTimeout(timer);
  }
}
