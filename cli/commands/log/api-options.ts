import { type Command, Option } from "commander";
import { readDevJson } from "../../../stack/index.js";
import { type ReviewTextClient, reviewClient } from "../../../verifier/index.js";

/** Where the review API is: the flags, else `xbus dev`'s dev.json. */
export interface ApiFlags {
  url?: string;
  token?: string;
}

/** How a time is given to the review API (README, "Times"). */
export const TIME =
  "milliseconds since the epoch or ISO 8601 with a zone (2026-11-27T10:00:00Z, …+06:00); a date alone is midnight UTC";

/** --url and --token, for the subcommands that call the review API. */
export function apiOptions(cmd: Command): Command {
  return cmd
    .option("--url <url>", "the review API's base URL (default: review.url of .xbus/dev/dev.json)")
    .addOption(
      new Option("--token <token>", "a reviewer's bearer token (default: review.token of dev.json)").env(
        "XBUS_REVIEW_TOKEN",
      ),
    );
}

export function api(flags: ApiFlags): ReviewTextClient {
  const dev = readDevJson();
  const url = flags.url ?? dev.review?.url;
  const token = flags.token ?? dev.review?.token;
  if (!url || !token) throw new Error("no review API: pass --url and --token (or run `xbus dev` here first)");
  return reviewClient(url, token, flags.url ? undefined : "from .xbus/dev/dev.json: is `xbus dev` running?");
}

/** The review API for its public routes (GET /checkpoint): a URL is enough; the token, if any, is sent. */
export function publicApi(flags: ApiFlags): ReviewTextClient {
  const dev = readDevJson();
  const url = flags.url ?? dev.review?.url;
  if (!url) throw new Error("no review API: pass --url (or run `xbus dev` here first)");
  return reviewClient(
    url,
    flags.token ?? (flags.url ? "" : (dev.review?.token ?? "")),
    flags.url ? undefined : "from .xbus/dev/dev.json: is `xbus dev` running?",
  );
}
