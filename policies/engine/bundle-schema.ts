import { z } from "zod";
import { type Catalogue, isAgencyName, parseWorkloadId } from "../../core/contract/index.js";
import { compileCondition } from "./condition.js";
import { parseDisclosure } from "./disclosure.js";
import { parseRate } from "./rate.js";

/*
 * The policy bundle's shape: its files as the YAML parser gives them, in name
 * order, checked as one value. Each message is the reason only; bundle.ts puts
 * the file, the line and the grant or purpose it is about before it. The
 * domain checks (SPIFFE IDs, the catalogue, CEL, rates, dates) are
 * refinements that let the rest go on being checked, so one pass lists every
 * problem of a bundle that does not check; only a value of the wrong type stops
 * the checks of what holds it, which could not say anything true about it.
 */
export interface BundleContext {
  catalogue: Catalogue;
  trustDomain: string;
  /** `file:line` of a place in the files, for a message that points at another place. */
  at(path: readonly PropertyKey[]): string;
}

const ID = /^[a-z][a-z0-9-]{0,62}$/;
const UTC_OFFSET = /^([+-])([01][0-9]|2[0-3]):([0-5][0-9])$/;
const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const quoted = (v: unknown) => JSON.stringify(v);

/** A reason for a value that must be written another way; `continue`: the other checks still run. */
const problem = (ctx: z.core.$RefinementCtx, message: string) =>
  ctx.addIssue({ code: "custom", message, continue: true });

/** A transform by a parser that throws its reason (CEL, rates): the reason becomes the problem. */
const parsedBy =
  <T>(parse: (text: string) => T) =>
  (text: string, ctx: z.core.$RefinementCtx): T | undefined => {
    try {
      return parse(text);
    } catch (err) {
      problem(ctx, (err as Error).message);
      return undefined;
    }
  };

const idOf = (kind: string) => {
  const why = `${kind} id must be lowercase letters, digits and dashes`;
  return z.string({ error: why }).regex(ID, why);
};

/** One of the file's lists; an entry that is not a mapping is named as such. */
const listOf = <T extends z.ZodType>(key: string, item: T) =>
  z.array(item, { error: `${key} must be a list` });
const entry = <S extends z.ZodRawShape>(list: string, shape: S) =>
  z.strictObject(shape, { error: `each entry of ${list} must be a mapping` });

/** Prose for explanations: one the YAML read as a number or a list was never a reason to refuse a bundle. */
const description = z.string().catch("");

const purpose = entry("purposes", {
  id: idOf("purpose"),
  description,
  legal_basis: z.string({ error: "legal_basis is required" }).min(1, "legal_basis is required"),
});

/** Why a SPIFFE ID is not a system of the trust domain, if it is not. */
function systemIdProblem(uri: string, trustDomain: string): string | undefined {
  try {
    const wid = parseWorkloadId(uri);
    if (wid.trustDomain !== trustDomain) return `is outside trust domain ${trustDomain}`;
    if (wid.role !== "system") return "is not a system identity";
    return undefined;
  } catch (err) {
    return `is not valid: ${(err as Error).message}`;
  }
}

const consentAuthority = ({ trustDomain }: BundleContext) =>
  z
    .string({ error: (i) => `consent authority ${quoted(i.input)} is not a SPIFFE ID` })
    .superRefine((uri, ctx) => {
      const why = systemIdProblem(uri, trustDomain);
      if (why) problem(ctx, `consent authority ${quoted(uri)} ${why}`);
    });

const utcOffset = z
  .string({ error: "utc_offset must look like +06:00" })
  .regex(UTC_OFFSET, "utc_offset must look like +06:00")
  .transform((v) => {
    const [, sign, h, m] = UTC_OFFSET.exec(v) ?? [];
    return (sign === "-" ? -1 : 1) * (Number(h) * 60 + Number(m));
  });

/** A grant's `expires`: the date's parts (the bundle's utc_offset turns them into an instant). */
const expires = z
  .string({ error: (i) => `expires must be a date YYYY-MM-DD, not ${quoted(i.input)}` })
  .transform((v, ctx) => {
    const m = DATE.exec(v);
    const [y, mo, d] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
    const day = new Date(Date.UTC(y, mo - 1, d));
    if (!m || day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d)
      problem(ctx, `expires must be a date YYYY-MM-DD, not ${quoted(v)}`);
    return { year: y, month: mo, day: d };
  });

const nonEmptyList = (key: string, item: z.ZodString) =>
  z.array(item, { error: `${key} must be a non-empty list` }).min(1, `${key} must be a non-empty list`);

const grant = ({ catalogue, trustDomain }: BundleContext) =>
  entry("grants", {
    id: idOf("grant"),
    description,
    consumer: z
      .string({ error: "consumer must be a SPIFFE ID" })
      .superRefine((uri, ctx) => {
        try {
          const wid = parseWorkloadId(uri);
          if (wid.trustDomain !== trustDomain)
            problem(ctx, `consumer ${uri} is outside trust domain ${trustDomain}`);
          else if (wid.role !== "system") problem(ctx, `consumer ${uri} is not a system identity`);
        } catch (err) {
          problem(ctx, (err as Error).message);
        }
      })
      .optional(),
    consumer_agency: z
      .string({ error: "consumer_agency must be an agency name" })
      .refine(isAgencyName, { error: (i) => `consumer_agency ${quoted(i.input)} is not an agency name` })
      .optional(),
    service: z
      .string({ error: "service is required (a service of the catalogue)" })
      .refine((s) => catalogue.get(s) !== undefined, { error: (i) => `unknown service ${quoted(i.input)}` }),
    purposes: nonEmptyList("purposes", z.string({ error: (i) => `unknown purpose ${quoted(i.input)}` })),
    fields: nonEmptyList("fields", z.string({ error: (i) => `${quoted(i.input)} is not a field name` })),
    consent: z
      .enum(["required", "not-required"], {
        error: (i) => `consent must be required or not-required, not ${quoted(i.input)}`,
      })
      .optional(),
    condition: z
      .string({ error: "condition must be a CEL expression (a string)" })
      .transform(parsedBy(compileCondition))
      .optional(),
    // As text whatever YAML made of it: `rate: 5` is refused by the rate's own reason.
    rate: z.coerce.string().transform(parsedBy(parseRate)).optional(),
    expires: expires.optional(),
    // A covert grant: what it allows is hidden from the citizen for this long (or until this day).
    disclose_after: z.coerce.string().transform(parsedBy(parseDisclosure)).optional(),
  }).superRefine((g, ctx) => {
    if ((g.consumer === undefined) === (g.consumer_agency === undefined))
      problem(ctx, "give exactly one of consumer (a SPIFFE ID) or consumer_agency");
    const entry = catalogue.get(g.service);
    if (!entry) return;
    g.fields.forEach((f, i) => {
      if (!entry.fieldPaths.has(f))
        ctx.addIssue({
          code: "custom",
          path: ["fields", i],
          message: `${quoted(f)} is not a field of ${entry.recordType.typeName}`,
          continue: true,
        });
    });
  });

const bundleFile = (c: BundleContext) =>
  z.strictObject(
    {
      purposes: listOf("purposes", purpose).optional(),
      grants: listOf("grants", grant(c)).optional(),
      consent_authorities: listOf("consent_authorities", consentAuthority(c)).optional(),
      utc_offset: utcOffset.optional(),
    },
    { error: "the file must be a mapping with keys purposes and/or grants" },
  );

export type BundleFile = z.output<ReturnType<typeof bundleFile>>;

/**
 * The files, then what only the whole bundle can say: every purpose a grant
 * names is defined in some file, ids are not used twice, the files agree on
 * utc_offset. These run when every file has the right shape.
 */
export const bundleSchema = (c: BundleContext) =>
  z.array(bundleFile(c)).superRefine((files, ctx) => {
    const issue = (path: PropertyKey[], message: string) =>
      ctx.addIssue({ code: "custom", path, message, continue: true });
    const purposes = new Set<string>();
    let offset: { minutes: number; path: PropertyKey[] } | undefined;
    files.forEach((f, i) => {
      if (f.utc_offset !== undefined) {
        if (offset && offset.minutes !== f.utc_offset)
          issue([i, "utc_offset"], `utc_offset differs from the one at ${c.at(offset.path)}`);
        offset = { minutes: f.utc_offset, path: [i, "utc_offset"] };
      }
      f.purposes?.forEach((p, j) => {
        if (purposes.has(p.id)) issue([i, "purposes", j, "id"], `purpose ${p.id} is defined twice`);
        purposes.add(p.id);
      });
    });
    const grantIds = new Set<string>();
    files.forEach((f, i) => {
      f.grants?.forEach((g, j) => {
        g.purposes.forEach((p, k) => {
          if (!purposes.has(p)) issue([i, "grants", j, "purposes", k], `unknown purpose ${quoted(p)}`);
        });
        if (grantIds.has(g.id)) issue([i, "grants", j, "id"], `grant id ${quoted(g.id)} is used twice`);
        grantIds.add(g.id);
      });
    });
  });
