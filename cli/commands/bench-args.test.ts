import { describe, expect, it } from "vitest";
import { parseBenchArgs } from "./bench.js";

const parse = (...args: string[]) => parseBenchArgs(args, () => {});

describe("xbus bench arguments", () => {
  it("passes --node-flags on as separate flags, none by default", () => {
    expect(parse().nodeFlags).toEqual([]);
    expect(parse("--node-flags= --max-semi-space-size=8  --heap-growing-percent=20 ").nodeFlags).toEqual([
      "--max-semi-space-size=8",
      "--heap-growing-percent=20",
    ]);
  });

  it("refuses --node-flags that are not flags, naming the offender", () => {
    expect(() => parse("--node-flags=--expose-gc other.js")).toThrow(/"other\.js" is not a --flag/);
    expect(() => parse("--node-flags=--require=$(id)")).toThrow(/--node-flags: "--require=\$\(id\)"/);
  });

  it("names the option a bad number came from", () => {
    expect(() => parse("--rounds", "two")).toThrow(/--rounds must be a number ≥ 1, got "two"/);
    expect(() => parse("--systems", "bare,bus")).toThrow(/unknown system "bus"/);
  });

  it("runs the split layout unless told otherwise, and refuses an unknown layout", () => {
    expect(parse().layout).toBe("split");
    expect(parse("--layout", "one-process").layout).toBe("one-process");
    expect(() => parse("--layout", "cluster")).toThrow(
      /--layout must be split or one-process, got "cluster"/,
    );
  });
});
