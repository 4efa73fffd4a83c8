// Calendar days in a given time zone (the market's or the meter's), without a date library.
const dayFormats = new Map<string, Intl.DateTimeFormat>();
const partFormats = new Map<string, Intl.DateTimeFormat>();

function dayFormat(tz: string): Intl.DateTimeFormat {
  let format = dayFormats.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" });
    dayFormats.set(tz, format);
  }
  return format;
}

/** "YYYY-MM-DD" of the instant `ms` in `tz`. */
export function dayKey(ms: number, tz: string): string {
  return dayFormat(tz).format(new Date(ms));
}

/** Minutes `tz` is ahead of UTC at the instant `ms` (60 for CET, 120 for CEST). */
export function offsetMinutes(ms: number, tz: string): number {
  let format = partFormats.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
    });
    partFormats.set(tz, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(ms)).map((part) => [part.type, part.value]));
  const asUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60_000);
}

/** The instant (epoch ms) of local midnight starting `day` ("YYYY-MM-DD") in `tz`. */
export function midnight(day: string, tz: string): number {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const guess = Date.UTC(y, m - 1, d);
  let at = guess - offsetMinutes(guess, tz) * 60_000;
  at = guess - offsetMinutes(at, tz) * 60_000; // the offset at the result, not at the guess (clock changes)
  return at;
}

/** `day` moved by `n` calendar days. */
export function addDays(day: string, n: number): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** The Monday of the ISO week containing `day`. */
export function mondayOf(day: string): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  return addDays(day, -weekday);
}

/** ISO week number of `day`. */
export function isoWeek(day: string): number {
  const thursday = addDays(mondayOf(day), 3);
  const [y] = thursday.split("-").map(Number) as [number];
  const first = Date.UTC(y, 0, 1);
  const [ty, tm, td] = thursday.split("-").map(Number) as [number, number, number];
  return Math.floor((Date.UTC(ty, tm - 1, td) - first) / 86_400_000 / 7) + 1;
}

/** ISO 8601 (UTC) of an epoch ms, as the API takes it. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
