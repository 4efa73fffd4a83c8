// Reading Luna's links (/prices?from=YYYY-MM-DD&to=YYYY-MM-DD, `to` exclusive) as the page's first state.
// Pure functions (tested in tests/link-params.test.ts). Missing or invalid dates: the page's defaults.
import { addDays, mondayOf } from "../energy/time";
import { daysBetween, parsePeriod } from "../../links";

/** The history card's choices (weeks back from this week's Monday). */
export const HISTORY_WEEKS = [5, 13, 52] as const;
export const DEFAULT_WEEKS = 5;
/** The compare card draws at most this many days or weeks. */
export const MAX_COMPARE = 6;

export interface Compare {
  mode: "day" | "week";
  keys: string[];
}

export interface PricesLink {
  /** the day card's day: the period's first day (the card shows one day) */
  day: string | null;
  /** history weeks: the fewest that reach back to the period's start (52 at most) */
  weeks: number;
  /** several days: laid over each other in the compare card (up to 6 days by day, else by ISO week) */
  compare: Compare | null;
}

/** The first day of the history card's window for `weeks` weeks. */
export function historyStart(today: string, weeks: number): string {
  return addDays(mondayOf(today), -7 * (weeks - 1));
}

/**
 * What a /prices link asks for. The page cannot show an arbitrary range in one chart: the day card
 * shows the first day, the compare card all days (≤ 6) or the first 6 ISO weeks of a longer period,
 * and the history card reaches back far enough to hold them where it can (a year at most).
 */
export function pricesLink(params: URLSearchParams, today: string): PricesLink {
  const period = parsePeriod(params.get("from"), params.get("to"));
  if (!period) return { day: null, weeks: DEFAULT_WEEKS, compare: null };
  const weeks = HISTORY_WEEKS.find((w) => historyStart(today, w) <= period.from) ?? 52;
  const n = daysBetween(period.from, period.to);
  let compare: Compare | null = null;
  if (n > 1 && n <= MAX_COMPARE) {
    compare = { mode: "day", keys: Array.from({ length: n }, (_, i) => addDays(period.from, i)) };
  } else if (n > MAX_COMPARE) {
    const mondays: string[] = [];
    for (let monday = mondayOf(period.from); monday < period.to && mondays.length < MAX_COMPARE; monday = addDays(monday, 7)) mondays.push(monday);
    compare = { mode: "week", keys: mondays };
  }
  return { day: period.from, weeks, compare };
}
