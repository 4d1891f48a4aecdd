/**
 * `2027-03-10`, `2027-03-10T22:30`, `…T22:30:00.250`, each optionally with `Z` or `±hh:mm`. Hours,
 * minutes and seconds are bounded here; whether the day exists is checked after.
 */
const ISO_LOCAL =
  /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?:T([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,9}))?)?(Z|([+-])([01]\d|2[0-3]):([0-5]\d))?)?$/;

/**
 * An ISO 8601 date or time in a policy file, as milliseconds since the epoch; undefined when it is not one.
 * With a zone (`Z`, `+06:00`) it is that instant. Without one it is the bundle's local time, `utc_offset`
 * minutes east of UTC, as the bundle reads `hour`, `weekday` and `expires`: never the local time of the
 * machine that happens to run the tests. A date alone is midnight local time.
 */
export function parseLocalTime(value: string, utcOffsetMinutes: number): number | undefined {
  const m = ISO_LOCAL.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone, sign, zh = "0", zm = "0"] = m;
  const year = Number(y);
  const month = Number(mo) - 1;
  const day = Number(d);
  const midnight = new Date(Date.UTC(year, month, day));
  // Date.UTC rolls 2027-02-30 over to 2 March, and reads years 0 to 99 as 1900 to 1999.
  if (midnight.getUTCFullYear() !== year || midnight.getUTCMonth() !== month || midnight.getUTCDate() !== day)
    return undefined;
  const offset =
    zone === undefined
      ? utcOffsetMinutes
      : zone === "Z"
        ? 0
        : (sign === "-" ? -1 : 1) * (Number(zh) * 60 + Number(zm));
  const ms = Number(frac.padEnd(3, "0").slice(0, 3));
  return midnight.getTime() + ((Number(h) * 60 + Number(mi) - offset) * 60 + Number(s)) * 1000 + ms;
}
