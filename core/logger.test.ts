import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

describe("the JSON-lines logger", () => {
  it("writes one JSON object per line with level, time, bindings and message", () => {
    const lines: string[] = [];
    const log = createLogger({ component: "broker" }, "info", (l) => lines.push(l));
    log.child({ exchange_id: "e-1" }).info({ trace_id: "t-1" }, "exchange done");
    log.debug({}, "below the level");
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith("\n")).toBe(true);
    const line = JSON.parse(lines[0] ?? "");
    expect(line).toMatchObject({
      level: "info",
      component: "broker",
      exchange_id: "e-1",
      trace_id: "t-1",
      msg: "exchange done",
    });
    expect(Number.isNaN(Date.parse(line.time))).toBe(false);
  });

  it("writes each key once: the innermost binding wins, and a call's field over a binding's", () => {
    const lines: string[] = [];
    const log = createLogger({ component: "dev" }, "info", (l) => lines.push(l));
    const broker = log.child({ component: "broker" });
    broker.child({ component: "tls" }).info({ cert_serial: "7D" }, "own certificate");
    const connector = log.child({ component: "connector", agency: "dcrc" });
    connector.info({ agency: "dcrc", subject: "xbus.svc.dcrc.*" }, "connector serving");
    connector.warn({ agency: "moh" }, "another agency named");
    broker.info({}, "plain");
    const count = (line: string, key: string) => line.split(`"${key}":`).length - 1;
    expect(lines.map((l) => count(l, "component"))).toEqual([1, 1, 1, 1]);
    expect(count(lines[1] ?? "", "agency")).toBe(1);
    expect(count(lines[2] ?? "", "agency")).toBe(1);
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([
      { component: "tls", cert_serial: "7D", msg: "own certificate" },
      { component: "connector", agency: "dcrc", subject: "xbus.svc.dcrc.*" },
      { component: "connector", agency: "moh", level: "warn" },
      { component: "broker", msg: "plain" },
    ]);
  });

  it("redacts fields named like a citizen ID or a secret, and keeps only an error's name and message", () => {
    const lines: string[] = [];
    const log = createLogger({}, "debug", (l) => lines.push(l));
    const err = Object.assign(new Error("boom"), { reason: "INTERNAL", detail: "12345678901" });
    log.error({ subject_id: "12345678901", req: { subjectId: "12345678901", token: "s3cret" }, err }, "x");
    expect(lines.join("")).not.toContain("12345678901");
    expect(lines.join("")).not.toContain("s3cret");
    expect(JSON.parse(lines[0] ?? "").err).toEqual({ name: "Error", message: "boom", reason: "INTERNAL" });
  });
});
