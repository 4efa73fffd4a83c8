// Shaping day-ahead prices for the charts: negative periods, day statistics, day/week overlays.
// Pure functions (tested in tests/prices.test.ts); the page and the chart options use them.
import { addDays, dayKey, midnight } from "../energy/time";

export const QUARTER_MS = 15 * 60_000;
/** DE-LU day-ahead is settled in the market's local time. */
export const MARKET_TZ = "Europe/Berlin";

/** [epoch ms, EUR/MWh or null (no price)] */
export type PricePair = [number, number | null];

export function toPairs(points: { ts: string; price_eur_mwh?: number | null }[]): PricePair[] {
  return points.map((point) => [Date.parse(point.ts), point.price_eur_mwh ?? null]);
}

/** 1 EUR/MWh = 0.1 ct/kWh. */
export function ctPerKwh(eurPerMwh: number): number {
  return eurPerMwh / 10;
}

/** The step of a series (the most common spacing), a quarter-hour when unknown. */
export function stepOf(pairs: PricePair[]): number {
  const counts = new Map<number, number>();
  for (let i = 1; i < pairs.length && i < 200; i++) {
    const gap = (pairs[i] as PricePair)[0] - (pairs[i - 1] as PricePair)[0];
    counts.set(gap, (counts.get(gap) ?? 0) + 1);
  }
  let best = QUARTER_MS;
  let most = 0;
  for (const [gap, count] of counts) if (count > most && gap > 0) [best, most] = [gap, count];
  return best;
}

export interface Period {
  start: number;
  /** exclusive: the end of the last negative interval */
  end: number;
  /** lowest price in the period (EUR/MWh) */
  min: number;
}

/** Runs of consecutive intervals with a price below zero (a price at ts covers [ts, ts + step)). */
export function negativePeriods(pairs: PricePair[], step = stepOf(pairs)): Period[] {
  const periods: Period[] = [];
  let open: Period | null = null;
  for (const [at, price] of pairs) {
    if (price !== null && price < 0) {
      if (open && open.end === at) {
        open.end = at + step;
        open.min = Math.min(open.min, price);
      } else {
        open = { start: at, end: at + step, min: price };
        periods.push(open);
      }
    } else {
      open = null;
    }
  }
  return periods;
}

export interface DayStats {
  count: number;
  mean: number | null;
  min: { value: number; at: number } | null;
  max: { value: number; at: number } | null;
  /** hours with a negative price */
  negativeHours: number;
}

export function stats(pairs: PricePair[], step = stepOf(pairs)): DayStats {
  let sum = 0;
  let count = 0;
  let negative = 0;
  let min: DayStats["min"] = null;
  let max: DayStats["max"] = null;
  for (const [at, price] of pairs) {
    if (price === null) continue;
    sum += price;
    count += 1;
    if (price < 0) negative += 1;
    if (!min || price < min.value) min = { value: price, at };
    if (!max || price > max.value) max = { value: price, at };
  }
  return { count, mean: count ? sum / count : null, min, max, negativeHours: (negative * step) / 3_600_000 };
}

/** The pairs within [from, to). */
export function between(pairs: PricePair[], from: number, to: number): PricePair[] {
  return pairs.filter(([at]) => at >= from && at < to);
}

/** Local days (YYYY-MM-DD in `tz`) that have at least one price, ascending. */
export function storedDays(pairs: PricePair[], tz = MARKET_TZ): string[] {
  const days = new Set<string>();
  for (const [at, price] of pairs) if (price !== null) days.add(dayKey(at, tz));
  return [...days].sort();
}

/** The day to show first: tomorrow when its prices are stored (after the auction), else today, else the latest stored day. */
export function defaultDay(days: string[], today: string): string {
  const tomorrow = addDays(today, 1);
  if (days.includes(tomorrow)) return tomorrow;
  if (days.includes(today) || days.length === 0) return today;
  return days[days.length - 1] as string;
}

export interface Overlay {
  /** the day, or the Monday of the week */
  key: string;
  /** [hours since the local start of the day or week, EUR/MWh] */
  points: [number, number | null][];
}

/**
 * Days (or ISO weeks, keyed by their Monday) laid over each other: x is the time since the local start,
 * in hours (0–24 for a day, 0–168 for a week; a clock-change day has 23 or 25 hours).
 */
export function overlay(pairs: PricePair[], keys: string[], mode: "day" | "week", tz = MARKET_TZ): Overlay[] {
  const span = mode === "day" ? 1 : 7;
  return keys.map((key) => {
    const start = midnight(key, tz);
    const end = midnight(addDays(key, span), tz);
    return { key, points: between(pairs, start, end).map(([at, price]) => [(at - start) / 3_600_000, price]) };
  });
}

/** Default days to compare with `day`: the day before and the same weekday a week earlier. */
export function compareDefaults(day: string, days: string[]): string[] {
  return [day, addDays(day, -1), addDays(day, -7)].filter((d, i) => i === 0 || days.includes(d));
}
