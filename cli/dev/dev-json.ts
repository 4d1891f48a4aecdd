import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** The parts of `.xbus/dev/dev.json` that other commands read for their defaults. */
export interface DevJson {
  broker?: string;
  nats?: string;
  ca?: string;
  review?: { url: string; token: string };
  log?: { index: string; key: string };
  /** When NATS runs with mutual TLS: the certificate tools connect with (the broker's, in dev). */
  nats_client?: { cert: string; key: string };
}

/** Reads dev.json from `dir` (default `.xbus/dev`), or returns {} when `xbus dev` has not run here. */
export function readDevJson(dir = join(".xbus", "dev")): DevJson {
  const path = resolve(dir, "dev.json");
  if (!existsSync(path)) return {};
  return JSON.parse(readFileSync(path, "utf8")) as DevJson;
}
