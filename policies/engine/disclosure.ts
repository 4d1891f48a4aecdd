/**
 * A covert grant's `disclose_after`: how long, or until which day, an exchange it allows stays hidden
 * from the citizen it is about. Either an ISO 8601 duration counted from the exchange (`P90D`, `P6M`,
 * `P1Y2M`, `PT12H`) or a date (`2027-06-30`, from the start of that day in the bundle's local time).
 * The exchange itself is logged at once either way: this only says when the citizen view shows it.
 */
export type Disclosure =
  | {
      readonly kind: "after";
      readonly text: string;
      readonly years: number;
      readonly months: number;
      readonly days: number;
      readonly ms: number;
    }
  | {
      readonly kind: "on";
      readonly text: string;
      readonly year: number;
      readonly month: number;
      readonly day: number;
    };

const DURATION =
  /^P(?:(\d{1,4})Y)?(?:(\d{1,5})M)?(?:(\d{1,5})W)?(?:(\d{1,6})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,7})M)?(?:(\d{1,9})S)?)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** No embargo may run past this: a delay of decades is an erasure by another name. */
const MAX_YEARS = 30;
const WHY = "disclose_after must be an ISO 8601 duration (P90D, P6M, P1Y, PT12H) or a date YYYY-MM-DD";

/** Parses `disclose_after`; throws the reason it cannot be read. */
export function parseDisclosure(text: string): Disclosure {
  const d = DATE.exec(text);
  if (d) {
    const [year, month, day] = [Number(d[1]), Number(d[2]), Number(d[3])];
    const t = new Date(Date.UTC(year, month - 1, day));
    if (t.getUTCFullYear() !== year || t.getUTCMonth() !== month - 1 || t.getUTCDate() !== day)
      throw new Error(`${WHY}, not ${JSON.stringify(text)}`);
    return { kind: "on", text, year, month, day };
  }
  const m = DURATION.exec(text);
  if (!m || text === "P" || text.endsWith("T")) throw new Error(`${WHY}, not ${JSON.stringify(text)}`);
  const n = (i: number) => Number(m[i] ?? 0);
  const parts = {
    years: n(1),
    months: n(2),
    days: n(3) * 7 + n(4),
    ms: ((n(5) * 60 + n(6)) * 60 + n(7)) * 1000,
  };
  const roughYears = parts.years + parts.months / 12 + parts.days / 365 + parts.ms / 31_536_000_000;
  if (roughYears === 0) throw new Error("disclose_after must be longer than zero");
  if (roughYears > MAX_YEARS)
    throw new Error(`disclose_after must be at most ${MAX_YEARS} years: the state may delay, never erase`);
  return { kind: "after", text, ...parts };
}

/**
 * When an exchange at `at` (ms since the epoch) under this disclosure becomes visible to its citizen:
 * a duration is added on the UTC calendar (P1M from 31 January is 3 March, as Date.UTC rolls over); a
 * date is the start of that day at `utcOffsetMinutes` east of UTC.
 */
export function disclosureTime(d: Disclosure, at: number, utcOffsetMinutes: number): number {
  if (d.kind === "on") return Date.UTC(d.year, d.month - 1, d.day) - utcOffsetMinutes * 60_000;
  const t = new Date(at);
  return (
    Date.UTC(
      t.getUTCFullYear() + d.years,
      t.getUTCMonth() + d.months,
      t.getUTCDate() + d.days,
      t.getUTCHours(),
      t.getUTCMinutes(),
      t.getUTCSeconds(),
      t.getUTCMilliseconds(),
    ) + d.ms
  );
}
