import { Command } from "commander";
import type { AlertsJson } from "../../../broker/index.js";
import { act, type Run } from "../command.js";
import { type ApiFlags, api, apiOptions, TIME } from "./api-options.js";

interface AlertsFlags extends ApiFlags {
  from?: string;
  to?: string;
  rule?: string;
  json?: true;
}

export function alertsCommand(run: Run): Command {
  const cmd = apiOptions(
    new Command("alerts")
      .summary("alerts recomputed from the log (GET /v1/alerts), one line each")
      .description(
        "Alerts recomputed from the log index over a window (default: the last 24 hours), newest first, one " +
          "line each; stderr says when the server stopped reading before the window's end.",
      )
      .option("--from <time>", `the window's start (${TIME})`)
      .option("--to <time>", "the window's end")
      .option("--rule <rule>", "only this rule's: bulk_lookup, denials or off_hours")
      .option("--json", "the API's answer, with each alert's exchanges"),
  );
  return act<AlertsFlags>(run, cmd, async (o) => {
    const say = (s: string) => run.io.out(`${s}\n`);
    const res = await api(o).get<AlertsJson>("/v1/alerts", { from: o.from, to: o.to, rule: o.rule });
    if (o.json) {
      say(JSON.stringify(res, null, 2));
    } else {
      say(["id", "rule", "first_at", "last_at", "count", "consumer", "summary"].join("\t"));
      for (const a of res.alerts)
        say(
          [
            a.id,
            a.rule,
            new Date(a.first_at).toISOString(),
            new Date(a.last_at).toISOString(),
            a.count,
            a.consumer,
            a.summary,
          ].join("\t"),
        );
    }
    const window = `${new Date(res.from).toISOString()} to ${new Date(res.to).toISOString()}`;
    run.io.err(
      res.complete
        ? `${res.alerts.length} alerts from ${window}\n`
        : `${res.alerts.length} alerts, INCOMPLETE: the server stopped reading at ${new Date(res.scanned_to).toISOString()} (window ${window}); run again with --from ${res.scanned_to}\n`,
    );
    return 0;
  });
}
