import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkReadable, readUserFile, whyUnreadable } from "./user-file.js";

const dir = mkdtempSync(join(tmpdir(), "xbus-user-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a file the user named that cannot be read", () => {
  it("says which file and why, in words", () => {
    const missing = join(dir, "missing.pem");
    expect(() => readUserFile(missing)).toThrow(`cannot read ${missing}: no such file`);
    expect(() => readUserFile(dir)).toThrow(`cannot read ${dir}: it is a directory`);
    expect(() => checkReadable(missing)).toThrow(`cannot read ${missing}: no such file`);
    expect(() => checkReadable(dir)).toThrow(`cannot read ${dir}: it is a directory`);
    const file = join(dir, "file");
    writeFileSync(file, "x");
    expect(() => readUserFile(join(file, "below"))).toThrow("a part of the path is not a directory");
    expect(readUserFile(file, "utf8")).toBe("x");
    expect(() => checkReadable(file)).not.toThrow();
  });

  it("names a permission refusal (made up here: tests may run as root, which reads anything)", () => {
    const eacces = Object.assign(new Error("EACCES: permission denied, open 'k.pem'"), { code: "EACCES" });
    expect(whyUnreadable(eacces)).toBe("permission denied");
    expect(whyUnreadable(Object.assign(new Error("x"), { code: "EMFILE" }))).toBe("EMFILE");
  });
});
