import { createPrivateKey, createPublicKey } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { fromBinary, fromJsonString } from "@bufbuild/protobuf";
import { connect } from "@nats-io/transport-node";
import { type AlertsJson, LogIndex, startIndexer } from "../../broker/index.js";
import { createLogger } from "../../core/index.js";
import { type Receipt, ReceiptSchema } from "../../proto/gen/xbus/v1/exchange_pb.js";
import { readDevJson } from "../../stack/index.js";
import {
  checkReceipt,
  type ExportLine,
  exportLog,
  isRawKeyBase64,
  type ReviewClient,
  readMonitorState,
  reviewClient,
  verifyExport,
  verifyLive,
  writeMonitorState,
} from "../../verifier/index.js";
import { type ExchangeJson, exchangePages } from "../log/query.js";
import { lastSignedHead, rebuiltExtends } from "../log/reindex-check.js";
import { checkReadable, readUserFile } from "../user-file.js";
import type { Command } from "./command.js";

const HELP = `xbus log <verify|export|query|alerts|reindex|receipt> [options]

  export  [--out FILE]                 entries and the signed tree head as JSON lines (stdout by default)
  verify  [--file FILE] [--public-key B64] [--log-id ID] [--state FILE]
                                      recompute the tree from an export (or live from the API without --file),
                                      check each signed tree head (against the pinned key and log ID when
                                      given); live, fetch the head again and prove it extends the exported
                                      one (a smaller head, or the same size with another root, fails: the
                                      log was rewritten or forked); names the first bad index; exit 1 on failure
                                      --state (live only): a monitor's memory between runs; the log must extend
                                      the head it holds (same key and log ID), which is then replaced by the
                                      new head (mode 0600); a missing file is created (that first run proves
                                      nothing against history); a corrupt file or a symlink is refused
  query   [--consumer ID] [--service S] [--subject CITIZEN_ID] [--purpose P] [--decision allow|deny|invalid|error]
          [--from T] [--to T] [--limit N] [--cursor C] [--json]
                                      exchanges newest first, one line each (--json: one {exchanges, next_cursor}
                                      object), following the API's pages up to N in all (default 50); when more
                                      match, stderr says so and names the --cursor that continues after them
  alerts  [--from T] [--to T] [--rule bulk_lookup|denials|off_hours] [--json]
                                      alerts recomputed from the log (default: the last 24 hours),
                                      newest first, one line each (--json: with their exchanges)
  reindex [--db PATH] [--log-key PEM] [--log-id ID] [--nats URL] [--nats-ca PEM --nats-cert PEM --nats-key PEM]
                                      rebuild the SQLite index from the JetStream stream alone (defaults:
                                      dev.json's log and NATS; NATS with mutual TLS takes a broker
                                      certificate); the rebuilt tree replaces an index at PATH only if it
                                      extends that index's last signed head, else exit 1 and PATH stays as
                                      it was; a broker running on PATH takes the new one at its next start
  receipt (--base64 B64 | --file FILE | --json JSON) [--broker-key PEM] [--public-key B64] [--offline]
                                      check a receipt (xbus.v1.Receipt: protobuf, or its JSON as grpcurl
                                      prints the answer's "receipt") a Fetch answer carried: the
                                      broker's signature (alone or batched; key default .xbus/dev/certs/
                                      broker-signing.pub.pem) and, unless --offline, that its leaf is in
                                      the log's signed tree; exit 1 if not, 2 if not in a tree head yet

T: milliseconds since the epoch or ISO 8601 with a zone (2026-11-27T10:00:00Z, …+06:00); a date alone is midnight UTC

API options (default: .xbus/dev/dev.json of \`xbus dev\`):
  --url URL        review API base URL
  --token TOKEN    reviewer bearer token (or XBUS_REVIEW_TOKEN)`;

const apiOptions = { url: { type: "string" }, token: { type: "string" } } as const;

function api(values: { url?: string | undefined; token?: string | undefined }): ReviewClient {
  const dev = readDevJson();
  const url = values.url ?? dev.review?.url;
  const token = values.token ?? process.env.XBUS_REVIEW_TOKEN ?? dev.review?.token;
  if (!url || !token) throw new Error("no review API: pass --url and --token (or run `xbus dev` here first)");
  return reviewClient(url, token, values.url ? undefined : "from .xbus/dev/dev.json: is `xbus dev` running?");
}

/** An SQLite index in WAL mode: the database and the two files beside it. */
const INDEX_FILE_SUFFIXES = ["", "-wal", "-shm"] as const;

function removeIndexFiles(path: string): void {
  for (const s of INDEX_FILE_SUFFIXES) rmSync(path + s, { force: true });
}

/** --public-key, refused unless it is what the API serves as public_key: base64 of the raw 32-byte key. */
function pinnedKey(b64: string | undefined): string | undefined {
  if (b64 !== undefined && !isRawKeyBase64(b64))
    throw new Error(
      "--public-key must be base64 of the log's raw 32-byte Ed25519 key, as the tree head's public_key",
    );
  return b64;
}

async function* readExport(file: string): AsyncGenerator<ExportLine> {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() === "") continue;
    try {
      yield JSON.parse(line) as ExportLine;
    } catch {
      throw new Error(`${file}:${n}: not a JSON line`);
    }
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** What `xbus log query` shows without --limit: one page, as the API answers by default. */
const DEFAULT_QUERY_LIMIT = 50;

const QUERY_HEADER = [
  "index",
  "time",
  "consumer",
  "service",
  "purpose",
  "decision",
  "status",
  "exchange_id",
].join("\t");

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

const progress = (done: number, total: number) => {
  if (process.stderr.isTTY) process.stderr.write(`\r${done}/${total} entries`);
};

export const logCommand: Command = {
  name: "log",
  summary: "verify, export, query, alert on or reindex the exchange log; check a Fetch's receipt",
  async run(args) {
    const [sub, ...rest] = args;
    const say = (s: string) => process.stdout.write(`${s}\n`);
    // Before any parsing: `xbus log export --help` must show the help, not export the log.
    if (rest.includes("--help") || rest.includes("-h")) {
      say(HELP);
      return 0;
    }
    switch (sub) {
      case "export": {
        const { values } = parseArgs({
          args: rest,
          options: { ...apiOptions, out: { type: "string" } },
          strict: true,
        });
        const out = values.out ? createWriteStream(values.out) : process.stdout;
        let n = 0;
        for await (const line of exportLog(api(values), progress)) {
          out.write(`${JSON.stringify(line)}\n`);
          n++;
        }
        if (values.out)
          await new Promise<void>((r) => (out as ReturnType<typeof createWriteStream>).end(() => r()));
        process.stderr.write(
          `${process.stderr.isTTY ? "\n" : ""}exported ${n - 1} entries and 1 tree head\n`,
        );
        return 0;
      }
      case "verify": {
        const { values } = parseArgs({
          args: rest,
          options: {
            ...apiOptions,
            file: { type: "string" },
            "public-key": { type: "string" },
            "log-id": { type: "string" },
            state: { type: "string" },
          },
          strict: true,
        });
        const opts = { publicKey: pinnedKey(values["public-key"]), logId: values["log-id"] };
        let result: ReturnType<typeof verifyExport>;
        let growth = "";
        let leftAsItWas = "";
        if (values.file) {
          if (values.state !== undefined)
            throw new Error(
              "--state is for live monitoring (without --file): an export file is a copy of the log at one time, which may well be older than the head a monitor remembers",
            );
          checkReadable(values.file);
          result = verifyExport(await collect(readExport(values.file)), opts);
        } else {
          const stateFile = values.state;
          // Read before anything is fetched: a corrupt or linked state file stops the run here.
          const remembered = stateFile === undefined ? undefined : readMonitorState(stateFile);
          const live = await verifyLive(api(values), {
            ...opts,
            remembered: remembered && {
              head: remembered,
              name: `the tree head last verified (state file ${stateFile})`,
            },
            onProgress: progress,
          });
          result = live;
          if (remembered)
            leftAsItWas = `\nthe state file ${stateFile} is left as it was: size ${remembered.tree_size}, root ${remembered.root_hash}`;
          if (live.ok) {
            const { later } = live;
            growth =
              live.growth === "same"
                ? "; the tree head fetched after the export is the same"
                : `; the tree head fetched after the export (size ${later.tree_size}, root ${later.root_hash}) extends it` +
                  (live.head.tree_size === 0
                    ? " (the exported tree was empty)"
                    : " (consistency proof verified)");
            if (stateFile !== undefined) {
              writeMonitorState(stateFile, later);
              growth += remembered
                ? `; the export's tree head ${live.history === "same" ? "is the same as" : "extends"} the one last verified (size ${remembered.tree_size}, root ${remembered.root_hash}); ${stateFile} now holds size ${later.tree_size}`
                : `; ${stateFile} created with the head of size ${later.tree_size}: a first run, it proved nothing against history yet`;
            }
          }
        }
        if (!result.ok) {
          say(
            `FAIL${result.badIndex === undefined ? "" : ` at index ${result.badIndex}`}: ${result.problem}${leftAsItWas}`,
          );
          return 1;
        }
        say(
          `ok: ${result.entries} entries, ${result.treeHeads} signed tree head(s), root ${result.rootHash}${growth}`,
        );
        return 0;
      }
      case "receipt": {
        const { values } = parseArgs({
          args: rest,
          options: {
            ...apiOptions,
            base64: { type: "string" },
            file: { type: "string" },
            json: { type: "string" },
            "broker-key": { type: "string" },
            "public-key": { type: "string" },
            offline: { type: "boolean", default: false },
          },
          strict: true,
        });
        const given = [values.base64, values.file, values.json].filter((v) => v !== undefined);
        if (given.length !== 1)
          throw new Error(
            "give the receipt once: --base64 B64 or --file FILE (protobuf xbus.v1.Receipt), or --json JSON (as grpcurl prints it)",
          );
        let receipt: Receipt;
        if (values.json !== undefined) {
          try {
            receipt = fromJsonString(ReceiptSchema, values.json);
          } catch (err) {
            throw new Error(`--json is not an xbus.v1.Receipt in protobuf JSON: ${(err as Error).message}`);
          }
        } else {
          let bytes: Uint8Array;
          if (values.file !== undefined) {
            bytes = readUserFile(values.file);
          } else bytes = Buffer.from(values.base64 ?? "", "base64");
          try {
            receipt = fromBinary(ReceiptSchema, bytes);
          } catch (err) {
            throw new Error(
              `not a protobuf xbus.v1.Receipt (${bytes.length} bytes): ${(err as Error).message}`,
            );
          }
        }
        const keyFile = values["broker-key"] ?? join(".xbus", "dev", "certs", "broker-signing.pub.pem");
        if (!existsSync(keyFile))
          throw new Error(
            `no broker key at ${keyFile}: pass --broker-key with the broker's signing key (PEM)`,
          );
        const brokerKey = createPublicKey(readUserFile(keyFile));
        if (brokerKey.asymmetricKeyType !== "ed25519")
          throw new Error(
            `${keyFile}: the broker's receipt key is Ed25519, this is ${brokerKey.asymmetricKeyType}`,
          );
        const result = await checkReceipt(
          receipt,
          brokerKey,
          values.offline ? undefined : { client: api(values), logPublicKey: pinnedKey(values["public-key"]) },
        );
        if (!result.ok) {
          say(`${result.pending ? "PENDING" : "FAIL"}: ${result.problem}`);
          return result.pending ? 2 : 1;
        }
        const how = result.batchSize === 0 ? "alone" : `in a batch of ${result.batchSize}`;
        say(
          `ok: leaf ${receipt.leafIndex} of ${receipt.logId}, signed by the broker (${how})` +
            (result.includedIn
              ? `, included in the signed tree of size ${result.includedIn.treeSize} (root ${result.includedIn.rootHash})`
              : " (not checked against the log: --offline)"),
        );
        return 0;
      }
      case "query": {
        const { values } = parseArgs({
          args: rest,
          options: {
            ...apiOptions,
            consumer: { type: "string" },
            service: { type: "string" },
            subject: { type: "string" },
            purpose: { type: "string" },
            decision: { type: "string" },
            from: { type: "string" },
            to: { type: "string" },
            limit: { type: "string" },
            cursor: { type: "string" },
            json: { type: "boolean" },
          },
          strict: true,
        });
        const { url: _u, token: _t, json, limit: limitArg, cursor, ...filters } = values;
        if (limitArg !== undefined && !/^[1-9][0-9]{0,8}$/.test(limitArg))
          throw new Error(`--limit must be a whole number from 1, got ${JSON.stringify(limitArg)}`);
        const limit = limitArg === undefined ? DEFAULT_QUERY_LIMIT : Number(limitArg);
        const shown: ExchangeJson[] = [];
        let count = 0;
        let next: string | null = null;
        // Table rows are printed page by page (the header once the first page came, so a refused query
        // prints nothing on stdout); --json must stay one JSON value, so it waits for the last page.
        let header = !json;
        for await (const page of exchangePages(api(values), filters, { limit, cursor })) {
          if (header) say(QUERY_HEADER);
          header = false;
          count += page.exchanges.length;
          next = page.next_cursor;
          if (json) shown.push(...page.exchanges);
          else for (const e of page.exchanges) say(exchangeLine(e));
        }
        if (json) say(JSON.stringify({ exchanges: shown, next_cursor: next }, null, 2));
        process.stderr.write(
          next === null
            ? `${count} exchanges\n`
            : `${count} exchanges; more match: raise --limit, or continue with --cursor ${next}\n`,
        );
        return 0;
      }
      case "alerts": {
        const { values } = parseArgs({
          args: rest,
          options: {
            ...apiOptions,
            from: { type: "string" },
            to: { type: "string" },
            rule: { type: "string" },
            json: { type: "boolean" },
          },
          strict: true,
        });
        const { url: _u, token: _t, json, ...params } = values;
        const res = await api(values).get<AlertsJson>("/v1/alerts", params);
        if (json) {
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
        process.stderr.write(
          res.complete
            ? `${res.alerts.length} alerts from ${window}\n`
            : `${res.alerts.length} alerts, INCOMPLETE: the server stopped reading at ${new Date(res.scanned_to).toISOString()} (window ${window}); run again with --from ${res.scanned_to}\n`,
        );
        return 0;
      }
      case "reindex": {
        const { values } = parseArgs({
          args: rest,
          options: {
            db: { type: "string" },
            "log-key": { type: "string" },
            nats: { type: "string" },
            "nats-ca": { type: "string" },
            "nats-cert": { type: "string" },
            "nats-key": { type: "string" },
            "log-id": { type: "string" },
          },
          strict: true,
        });
        const dev = readDevJson();
        const db = values.db ?? dev.log?.index;
        const keyPath = values["log-key"] ?? dev.log?.key;
        const servers = values.nats ?? dev.nats;
        if (!db || !keyPath || !servers)
          throw new Error("reindex needs --db, --log-key and --nats (or `xbus dev` running here)");
        const logId = values["log-id"] ?? dev.log?.log_id;
        if (!logId) throw new Error("reindex needs --log-id (the id the log's tree heads carry)");
        const logKey = createPrivateKey(readUserFile(keyPath));
        // xbus dev's NATS takes only certificates it knows (see README "The federation's PKI").
        const explicit = values["nats-cert"] && values["nats-key"] && values["nats-ca"];
        const fromDev = values.nats === undefined && dev.ca ? dev.nats_client : undefined;
        const tls = explicit
          ? {
              ca: readUserFile(values["nats-ca"] ?? "", "utf8"),
              cert: readUserFile(values["nats-cert"] ?? "", "utf8"),
              key: readUserFile(values["nats-key"] ?? "", "utf8"),
            }
          : fromDev && {
              ca: readUserFile(dev.ca ?? "", "utf8"),
              cert: readUserFile(fromDev.cert, "utf8"),
              key: readUserFile(fromDev.key, "utf8"),
            };
        // What the old index signed, reviewers may hold: the rebuilt tree must extend it.
        const old = lastSignedHead(db, logId);
        if (old.unreadable)
          process.stderr.write(
            `the old index at ${db} could not be read (${old.unreadable}): the rebuilt tree is not compared with its heads\n`,
          );
        // Rebuilt beside the old index, which stays until the new one is shown to extend it: a wrong
        // --nats, or a stream that no longer holds the log the old index signed, must not cost it.
        const nc = await connect({ servers, ...(tls && { tls }) });
        const building = `${db}.rebuilding`;
        removeIndexFiles(building);
        const index = new LogIndex(building, logId, logKey);
        const indexer = await startIndexer({
          nats: nc,
          index,
          logger: createLogger({ component: "reindex" }, "warn"),
        });
        for (;;) {
          const lag = await indexer.lag();
          progress(index.treeSize, index.treeSize + lag);
          if (lag === 0) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        await indexer.stop();
        const head = index.latestTreeHead();
        const growth = old.head && (await rebuiltExtends(old.head, index));
        index.close();
        await nc.close();
        if (growth && !growth.ok) {
          removeIndexFiles(building);
          say(`FAIL: ${growth.problem}; the index at ${db} is left as it was`);
          return 1;
        }
        removeIndexFiles(db);
        for (const s of INDEX_FILE_SUFFIXES) if (existsSync(building + s)) renameSync(building + s, db + s);
        say(
          `reindexed ${head?.treeSize ?? 0} entries; root ${head?.rootHash ?? ""}` +
            (old.head ? `; extends the old index's last signed head (size ${old.head.treeSize})` : ""),
        );
        return 0;
      }
      case undefined:
      case "help":
      case "--help":
      case "-h":
        say(HELP);
        return 0;
      default:
        process.stderr.write(`xbus log: unknown subcommand ${JSON.stringify(sub)}\n\n${HELP}\n`);
        return 2;
    }
  },
};
