import { z } from "zod";
import { isKeyName } from "../../core/log-format/index.js";
import { witnessLogs } from "../../stack/index.js";
import { readSetting } from "../config/setting-files.js";
import { hostPort, optionalText, section, text, texts } from "../config/setting-schemas.js";
import { type Flags, loadSettings, type SettingPaths, type SettingsPlace } from "../config/settings.js";

/** Where `xbus witness` listens when not told: loopback, a fixed port so the logs can name it. */
export const DEFAULT_WITNESS_LISTEN = "127.0.0.1:7380";

/** `xbus witness`'s settings (README, "Witnessing"), checked whole before anything starts. */
export interface WitnessConfig {
  name: string;
  stateDir: string;
  /** The logs' vkeys, by origin. */
  logs: Map<string, string>;
  hostname: string;
  port: number;
  /** PEM contents, when it serves HTTPS. */
  tls?: { cert: string; key: string };
}

const witnessSettings = z.strictObject({
  name: text.refine(isKeyName, 'must be a key name: no spaces and no "+", e.g. witness.audit.gov.bt'),
  state: text,
  logs: texts,
  listen: hostPort.optional(),
  tls: section({ cert: optionalText, key: optionalText }),
});

/** Every setting: path in the JSON → its flag. */
export const WITNESS_SETTINGS = {
  name: "name",
  state: "state",
  logs: "log",
  listen: "listen",
  "tls.cert": "tls-cert",
  "tls.key": "tls-key",
} as const satisfies Record<SettingPaths<typeof witnessSettings.shape>, string | undefined>;

type Setting = keyof typeof WITNESS_SETTINGS;

/** Reads, merges and checks the settings; throws ConfigError naming the first problem. */
export function loadWitnessConfig(configPath: string | undefined, flags: Flags = {}): WitnessConfig {
  return loadSettings({
    spec: WITNESS_SETTINGS,
    configPath,
    flags,
    schema: witnessSettings,
    check: (s, place: SettingsPlace<Setting>) => {
      let logs: Map<string, string>;
      try {
        logs = witnessLogs(s.logs);
      } catch (err) {
        return place.fail("logs", (err as Error).message);
      }
      const listen = s.listen ?? DEFAULT_WITNESS_LISTEN;
      const cut = listen.lastIndexOf(":");
      const port = Number(listen.slice(cut + 1));
      if (port > 65_535) place.fail("listen", `port ${port} is out of range`);
      if ((s.tls.cert === undefined) !== (s.tls.key === undefined))
        place.fail(s.tls.cert === undefined ? "tls.cert" : "tls.key", "tls.cert and tls.key go together");
      const file = (setting: "tls.cert" | "tls.key", v: string) =>
        readSetting(place, setting, place.path(setting, v));
      return {
        name: s.name,
        stateDir: place.path("state", s.state),
        logs,
        hostname: listen.slice(0, cut).replace(/^\[|\]$/g, ""),
        port,
        ...(s.tls.cert !== undefined &&
          s.tls.key !== undefined && {
            tls: { cert: file("tls.cert", s.tls.cert), key: file("tls.key", s.tls.key) },
          }),
      };
    },
  });
}
