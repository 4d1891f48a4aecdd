import { z } from "zod";

/*
 * The kinds of setting the process commands share, each with the reason a
 * refusal gives (settingsProblem puts the setting's origin before it). A flag
 * is always text, a file's value is JSON: numbers and lists take both.
 */
export const HOST_PORT = /^[A-Za-z0-9.-]+:[0-9]{1,5}$|^\[[0-9a-fA-F:]+\]:[0-9]{1,5}$/;
const NATS_URL = /^(nats|tls):\/\/[^\s/]+$|^[A-Za-z0-9.-]+:[0-9]{1,5}$/;

/** A value shown in a reason: quoted, and cut short, as it may be anything the file held. */
export const shown = (v: unknown, max = 100) => JSON.stringify(String(v).slice(0, max));

/** Required text; a path setting is text too, resolved by the schema's checks (SettingsPlace.path). */
export const text = z
  .string({ error: (i) => (i.input === undefined ? "is required" : "must be a string") })
  .min(1, "is required");

export const optionalText = z
  .string({ error: "must be a non-empty string" })
  .min(1, "must be a non-empty string")
  .optional();

/** One or more: a single value (one flag, or a string in the file) is a list of one. */
const listOf = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (v) => (typeof v === "string" ? [v] : v),
    z.array(item, { error: "is required (one or more)" }).min(1, "is required (one or more)"),
  );

const listItem = z.string({ error: "must be a list of strings" }).min(1, "must be a list of strings");

export const texts = listOf(listItem);

export const natsServers = listOf(
  listItem.regex(NATS_URL, {
    error: (i) => `${shown(i.input)} is not a NATS URL (nats://HOST:PORT or tls://HOST:PORT)`,
  }),
);

export const hostPort = text.regex(HOST_PORT, { error: (i) => `must be HOST:PORT, got ${shown(i.input)}` });

/** A whole number in [min, max]; a flag's digits count as one. */
export const wholeNumber = (min: number, max: number) => {
  const why = `must be a whole number from ${min} to ${max}`;
  return z.preprocess(
    (v) => (typeof v === "string" && /^[0-9]+$/.test(v) ? Number(v) : v),
    z.number({ error: why }).int(why).min(min, why).max(max, why),
  );
};

/** A section of settings (`tls`, `log`, …): a setting it does not know is refused, not ignored. */
export const section = <S extends z.ZodRawShape>(shape: S) =>
  z.strictObject(shape, { error: "must be an object" });

/** `metrics.port` and `metrics.host` (default loopback): a process's `/metrics`, `/healthz` and `/readyz`. */
export const metricsSection = section({ port: wholeNumber(0, 65_535).optional(), host: optionalText })
  .superRefine((m, ctx) => {
    if (m.host !== undefined && m.port === undefined)
      ctx.addIssue({ code: "custom", path: ["host"], message: "metrics.host needs metrics.port" });
  })
  .transform((m) => (m.port === undefined ? undefined : { port: m.port, host: m.host ?? "127.0.0.1" }));
