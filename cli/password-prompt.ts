/**
 * Asks for a password on a terminal without echoing it. A password never comes
 * from a flag (it would sit in the shell history and in `ps`), and this text is
 * never logged.
 */
export interface PromptInput {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  on(event: "data", listener: (chunk: Buffer | string) => void): unknown;
  off(event: "data", listener: (chunk: Buffer | string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

export class PromptCancelled extends Error {}

export function readPassword(
  prompt: string,
  input: PromptInput,
  output: { write(text: string): unknown },
): Promise<string> {
  if (!input.isTTY || !input.setRawMode)
    return Promise.reject(new Error("no terminal to ask for a password on"));
  const raw = input.setRawMode.bind(input);
  output.write(prompt);
  raw(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = "";
    const done = (err?: Error) => {
      input.off("data", onData);
      raw(false);
      input.pause();
      output.write("\n");
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003" || ch === "\u0004") return done(new PromptCancelled("cancelled"));
        if (ch === "\u007f" || ch === "\b") typed = typed.slice(0, -1);
        else if (ch >= " ") typed += ch;
      }
    };
    input.on("data", onData);
  });
}
