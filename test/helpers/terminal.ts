import { EventEmitter } from "node:events";

/** A terminal (for cli/password-prompt.ts) that types `lines`, one each time it is read from, and records raw mode. */
export function fakeTerminal(lines: string[]) {
  const t = Object.assign(new EventEmitter(), {
    isTTY: true,
    raw: [] as boolean[],
    setRawMode: (on: boolean) => t.raw.push(on),
    resume: () => setImmediate(() => t.emit("data", Buffer.from(lines.shift() ?? ""))),
    pause: () => {},
  });
  return t;
}
