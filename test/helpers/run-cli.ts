import { vi } from "vitest";
import { commands } from "../../cli/commands/index.js";
import { runCommand } from "../../cli/commands/run-command.js";

/** Runs `xbus <args>` in this process, stdout and stderr captured (not printed): its exit code and output. */
export async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  const [name, ...rest] = args;
  const command = commands.find((c) => c.name === name);
  if (!command) throw new Error(`no command ${name}`);
  try {
    const code = await runCommand(command, rest);
    return { code, out, err };
  } finally {
    vi.restoreAllMocks();
  }
}
