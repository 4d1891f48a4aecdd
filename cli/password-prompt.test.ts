import { describe, expect, it } from "vitest";
import { fakeTerminal } from "../test/helpers/terminal.js";
import { PromptCancelled, readPassword } from "./password-prompt.js";

describe("readPassword", () => {
  it("reads one line in raw mode, with backspace, and never echoes it", async () => {
    const t = fakeTerminal(["secrex\u007ft\r"]);
    let shown = "";
    const pw = await readPassword("password: ", t, { write: (s: string) => (shown += s) });
    expect(pw).toBe("secret");
    expect(shown).toBe("password: \n");
    expect(t.raw).toEqual([true, false]);
    expect(t.listenerCount("data")).toBe(0);
  });

  it("gives up on Ctrl-C, leaving raw mode", async () => {
    const t = fakeTerminal(["abc\u0003"]);
    await expect(readPassword("password: ", t, { write: () => {} })).rejects.toBeInstanceOf(PromptCancelled);
    expect(t.raw).toEqual([true, false]);
  });

  it("refuses without a terminal", async () => {
    const t = Object.assign(fakeTerminal(["x\r"]), { isTTY: false });
    await expect(readPassword("password: ", t, { write: () => {} })).rejects.toThrow(/no terminal/);
  });
});
