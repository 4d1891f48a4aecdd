// Loaded with `node --import` into an xbus process by test/e2e/compiled-cli.test.ts: records every module
// the process loads (through a module hook, so the main thread and the worker threads it starts alike)
// and, at exit, its execArgv, into the file XBUS_PROBE_OUT names.
import { appendFileSync } from "node:fs";
import { register } from "node:module";

const out = process.env.XBUS_PROBE_OUT;
if (out) {
  register(
    `data:text/javascript,${encodeURIComponent(`
      import { appendFileSync } from "node:fs";
      let out;
      export function initialize(data) { out = data.out; }
      export async function load(url, context, next) {
        appendFileSync(out, JSON.stringify({ loaded: url }) + "\\n");
        return next(url, context);
      }`)}`,
    { data: { out } },
  );
  process.on("exit", () => appendFileSync(out, `${JSON.stringify({ execArgv: process.execArgv })}\n`));
}
