import { MINUTE, type OfficeHours } from "./alert-options.js";

/**
 * Whether a time (milliseconds since the epoch) falls outside office hours: on a day not in `days`, or
 * before `start` or from `end` on, in the office's time zone. One Intl call per distinct minute, which a
 * busy log repeats.
 */
export function outsideOfficeHours(office: OfficeHours): (time: number) => boolean {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: office.timeZone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  const days = new Set<string>(office.days);
  const cache = new Map<number, boolean>();
  return (time) => {
    // Every time zone's offset is a whole number of minutes, so the minute decides.
    const minute = Math.floor(time / MINUTE);
    let outside = cache.get(minute);
    if (outside === undefined) {
      let weekday = "";
      let hour = 0;
      let min = 0;
      for (const p of format.formatToParts(minute * MINUTE)) {
        if (p.type === "weekday") weekday = p.value;
        else if (p.type === "hour") hour = Number(p.value);
        else if (p.type === "minute") min = Number(p.value);
      }
      const local = hour * 60 + min;
      outside = !days.has(weekday) || local < office.startMin || local >= office.endMin;
      cache.set(minute, outside);
    }
    return outside;
  };
}
