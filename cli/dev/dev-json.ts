import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** The parts of `.xbus/dev/dev.json` that other commands read for their defaults. */
export interface DevJson {
  broker?: string;
  nats?: string;
  ca?: string;
  review?: { url: string; token: string };
  log?: { index: string; key: string; log_id: string };
  /** When NATS runs with mutual TLS: the certificate tools connect with (the broker's, in dev). */
  nats_client?: { cert: string; key: string };
  /** Consumer systems with certificates (the journeys pick theirs by SPIFFE ID). */
  consumers?: { spiffe_id: string; cert: string; key: string }[];
  /** Each adapter and the client certificate it accepts (its agency's connector). */
  adapters?: { agency: string; address?: string; client?: { cert: string; key: string } }[];
  adapter_client?: { cert: string; key: string };
}

/** Reads dev.json from `dir` (default `.xbus/dev`), or returns {} when `xbus dev` has not run here. */
export function readDevJson(dir = join(".xbus", "dev")): DevJson {
  const path = resolve(dir, "dev.json");
  if (!existsSync(path)) return {};
  return JSON.parse(readFileSync(path, "utf8")) as DevJson;
}
