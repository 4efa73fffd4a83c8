// What every page needs to read Luna's links (?from=YYYY-MM-DD&to=…&tz=…&site=…) and keep its URL in step:
// day and period parsing, the zone of the days, and a query update. Pure functions (tested in
// tests/link-params.test.ts); anything missing or invalid gives null or the default, never an error.
import { addDays } from "./pages/energy/time";

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar day "YYYY-MM-DD" that exists (no 2026-02-30), years 2000–2100; else null. */
export function parseDay(value: string | null | undefined): string | null {
  const match = value ? DAY.exec(value) : null;
  if (!match) return null;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (y < 2000 || y > 2100) return null;
  return new Date(Date.UTC(y, m - 1, d)).toISOString().slice(0, 10) === value ? value : null;
}

/** Whole calendar days from `from` to `to` (both "YYYY-MM-DD"). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** Longest period a link opens (a year of quarter-hours is the API's and the chart's limit). */
export const MAX_LINK_DAYS = 366;

/** Local days [from, to): `to` is the exclusive end day, as Luna writes it (tools.py: period.end). */
export interface DayPeriod {
  from: string;
  to: string;
}

/**
 * The linked period. A valid `from` is enough: with `to` missing, invalid or not after `from`, the
 * period is the day `from`. Longer than MAX_LINK_DAYS: its first MAX_LINK_DAYS days.
 */
export function parsePeriod(from: string | null, to: string | null): DayPeriod | null {
  const first = parseDay(from);
  if (!first) return null;
  const end = parseDay(to);
  if (!end || end <= first) return { from: first, to: addDays(first, 1) };
  return daysBetween(first, end) > MAX_LINK_DAYS ? { from: first, to: addDays(first, MAX_LINK_DAYS) } : { from: first, to: end };
}

/** The time zone of the browser: the page's calendar days (the home page's "today" uses it too). */
export function browserTz(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** The link's `tz` (the zone Luna's days are calendar days of) when the browser knows it, else the
 * browser's own zone. */
export function linkTz(value: string | null): string {
  if (value && value.length <= 64) {
    try {
      return new Intl.DateTimeFormat("en", { timeZone: value }).resolvedOptions().timeZone;
    } catch {
      // an unknown zone: the browser's
    }
  }
  return browserTz();
}

/** `params` with keys set (a string) or removed (null): the page keeps its URL in step (replace, not push). */
export function withParams(params: URLSearchParams, changes: Record<string, string | null>): URLSearchParams {
  const out = new URLSearchParams(params);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) out.delete(key);
    else out.set(key, value);
  }
  return out;
}
