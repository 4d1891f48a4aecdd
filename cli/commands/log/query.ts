import { Command, InvalidArgumentError, Option } from "commander";
import { type ExchangeFilters, type ExchangeJson, exchangePages } from "../../log/query.js";
import { act, type Run } from "../command.js";
import { type ApiFlags, api, apiOptions, TIME } from "./api-options.js";

interface QueryFlags extends ApiFlags, ExchangeFilters {
  limit: number;
  cursor?: string;
  json?: true;
}

const HEADER = ["index", "time", "consumer", "service", "purpose", "decision", "status", "exchange_id"].join(
  "\t",
);

/** One table row; a leaf the index could not decode (record null) is still a row, with its index. */
function exchangeLine(e: ExchangeJson): string {
  const r = e.record ?? {};
  return [
    e.index,
    r.time === undefined ? "" : new Date(Number(r.time)).toISOString(),
    r.consumer,
    r.service,
    r.purpose,
    r.decision,
    r.status,
    r.exchange_id,
  ].join("\t");
}

/** What `xbus log query` shows without --limit: one page, as the API answers by default. */
const DEFAULT_LIMIT = 50;

const limitOption = () =>
  new Option("--limit <n>", "follow the API's pages up to N exchanges in all")
    .argParser((v: string) => {
      if (!/^[1-9][0-9]{0,8}$/.test(v))
        throw new InvalidArgumentError(`--limit must be a whole number from 1, got ${JSON.stringify(v)}`);
      return Number(v);
    })
    .default(DEFAULT_LIMIT);

export function queryCommand(run: Run): Command {
  const cmd = apiOptions(
    new Command("query")
      .summary("exchanges from the log index, newest first, with the API's filters")
      .description(
        "Lists exchanges newest first, one line each, following the API's pages up to --limit in all; when " +
          "more match, stderr says so and names the --cursor that continues after them.",
      )
      .option("--consumer <spiffe-id>", "only this consumer's")
      .option("--service <service>", "only of this service")
      .option("--subject <citizen-id>", "only about this citizen")
      .option("--purpose <purpose>", "only for this purpose")
      .option("--decision <decision>", "only these: allow, deny, invalid or error")
      .option("--from <time>", `from this time on (${TIME})`)
      .option("--to <time>", "before this time")
      .addOption(limitOption())
      .option("--cursor <cursor>", "continue where a query with the same filters stopped")
      .option("--json", "one {exchanges, next_cursor} object, in the API's shape"),
  );
  return act<QueryFlags>(run, cmd, async (o) => {
    const say = (s: string) => run.io.out(`${s}\n`);
    const { consumer, service, subject, purpose, decision, from, to } = o;
    const filters = { consumer, service, subject, purpose, decision, from, to };
    const shown: ExchangeJson[] = [];
    let count = 0;
    let next: string | null = null;
    // Table rows are printed page by page (the header once the first page came, so a refused query
    // prints nothing on stdout); --json must stay one JSON value, so it waits for the last page.
    let header = !o.json;
    for await (const page of exchangePages(api(o), filters, { limit: o.limit, cursor: o.cursor })) {
      if (header) say(HEADER);
      header = false;
      count += page.exchanges.length;
      next = page.next_cursor;
      if (o.json) shown.push(...page.exchanges);
      else for (const e of page.exchanges) say(exchangeLine(e));
    }
    if (o.json) say(JSON.stringify({ exchanges: shown, next_cursor: next }, null, 2));
    run.io.err(
      next === null
        ? `${count} exchanges\n`
        : `${count} exchanges; more match: raise --limit, or continue with --cursor ${next}\n`,
    );
    return 0;
  });
}
