/** A grant's `rate:`, e.g. `100/minute`: at most `count` requests per `perMs`, per consumer. */
export interface Rate {
  readonly count: number;
  readonly perMs: number;
  readonly text: string;
}

const UNITS: Record<string, number> = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const RATE = /^([1-9][0-9]{0,6})\/(second|minute|hour|day)$/;

/** Parses `N/second|minute|hour|day`; throws an Error saying what is wrong. */
export function parseRate(text: string): Rate {
  const m = RATE.exec(text.trim());
  const unit = m?.[2] ? UNITS[m[2]] : undefined;
  if (!m?.[1] || unit === undefined) {
    throw new Error(
      `rate ${JSON.stringify(text)} is not N/second, N/minute, N/hour or N/day (N from 1 to 9999999)`,
    );
  }
  return { count: Number(m[1]), perMs: unit, text: `${m[1]}/${m[2]}` };
}
