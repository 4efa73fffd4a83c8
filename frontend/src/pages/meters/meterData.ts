// Shaping meter data for the Smart meters page (pure functions, tested in tests/meters.test.ts).
import type { components } from "../../api/schema";

type ReadingColumns = components["schemas"]["ReadingColumns"];
type QualityRecord = components["schemas"]["QualityRecord"];

export const BUCKETS = ["15m", "1h", "1d", "1w", "1mo"] as const;
export type Bucket = (typeof BUCKETS)[number];
export const AGGS = ["avg", "min", "max", "sum", "last"] as const;
export type Agg = (typeof AGGS)[number];

export const RANGES = [
  { id: "24h", hours: 24 },
  { id: "7d", hours: 7 * 24 },
  { id: "28d", hours: 28 * 24 },
  { id: "1y", hours: 365 * 24 },
] as const;
export type RangeId = (typeof RANGES)[number]["id"];

const BUCKET_HOURS: Record<Bucket, number> = { "15m": 0.25, "1h": 1, "1d": 24, "1w": 168, "1mo": 730 };

/** Buckets that make sense for a range: at least 2 buckets, at most a year of quarter-hours (35,040). */
export function bucketsFor(range: RangeId): Bucket[] {
  return bucketsForHours(RANGES.find((r) => r.id === range)?.hours ?? 24);
}

/** The same for a window of `hours` (a linked period); at least the coarsest bucket that fits. */
export function bucketsForHours(hours: number): Bucket[] {
  const fit = BUCKETS.filter((bucket) => hours / BUCKET_HOURS[bucket] >= 2 && hours / BUCKET_HOURS[bucket] <= 35_040);
  return fit.length ? fit : ["15m"];
}

const DEFAULT_BUCKET: Record<RangeId, Bucket> = { "24h": "15m", "7d": "1h", "28d": "1h", "1y": "1d" };

/** The chosen bucket when the range allows it, else the range's default. */
export function fitBucket(range: RangeId, bucket: Bucket): Bucket {
  return bucketsFor(range).includes(bucket) ? bucket : DEFAULT_BUCKET[range];
}

/** The chosen bucket when a window of `hours` allows it, else the default of the smallest range holding it. */
export function fitBucketHours(hours: number, bucket: Bucket): Bucket {
  const allowed = bucketsForHours(hours);
  if (allowed.includes(bucket)) return bucket;
  const range = RANGES.find((r) => r.hours >= hours)?.id ?? "1y";
  return allowed.includes(DEFAULT_BUCKET[range]) ? DEFAULT_BUCKET[range] : (allowed[0] as Bucket);
}

/** A site sums its meters: only averages and energies add up (a sum of maxima is not the site's maximum). */
export function aggsFor(scope: "site" | "meter"): Agg[] {
  return scope === "site" ? ["avg", "sum"] : [...AGGS];
}

/** agg=sum gives energy per bucket (kWh); the others power (kW). */
export function unitFor(agg: Agg): "kWh" | "kW" {
  return agg === "sum" ? "kWh" : "kW";
}

export type Pair = [number, number];

/** Consumption and production of one meter, or of several summed per timestamp (a site), from the
 * columnar answers of /timeseries/readings/columns (arrays: a year of quarter-hours stays small). */
export function seriesOf(all: ReadingColumns[], agg: Agg): { consumption: Pair[]; production: Pair[] } {
  const cField = agg === "sum" ? "consumption_kwh" : "consumption_kw";
  const pField = agg === "sum" ? "production_kwh" : "production_kw";
  if (all.length === 1) {
    // One meter (the 35,040-point case): straight into arrays, no maps.
    const one = all[0] as ReadingColumns;
    const c = one[cField] ?? [];
    const p = one[pField] ?? [];
    const consumption: Pair[] = [];
    const production: Pair[] = [];
    for (let i = 0; i < one.ts.length; i++) {
      const at = Date.parse(one.ts[i] as string);
      const cv = c[i];
      const pv = p[i];
      if (cv != null) consumption.push([at, cv]);
      if (pv != null) production.push([at, pv]);
    }
    return { consumption, production };
  }
  const consumption = new Map<number, number>();
  const production = new Map<number, number>();
  for (const one of all) {
    const c = one[cField] ?? [];
    const p = one[pField] ?? [];
    for (let i = 0; i < one.ts.length; i++) {
      const at = Date.parse(one.ts[i] as string);
      const cv = c[i];
      const pv = p[i];
      if (cv != null) consumption.set(at, (consumption.get(at) ?? 0) + cv);
      if (pv != null) production.set(at, (production.get(at) ?? 0) + pv);
    }
  }
  const sorted = (map: Map<number, number>) => [...map.entries()].sort((a, b) => a[0] - b[0]);
  return { consumption: sorted(consumption), production: sorted(production) };
}

/** Buckets whose samples cover less than 99 % of them. */
export function gapBuckets(all: ReadingColumns[]): number {
  let gaps = 0;
  for (const one of all) for (const coverage of one.coverage ?? []) if (coverage != null && coverage < 0.99) gaps += 1;
  return gaps;
}

/** The newest timestamp (epoch ms) among readings, null without any. */
export function newest(points: ({ ts: string } | undefined)[]): number | null {
  let best: number | null = null;
  for (const point of points) {
    if (!point) continue;
    const at = Date.parse(point.ts);
    if (best === null || at > best) best = at;
  }
  return best;
}

/** The newest quality report of each series (the API lists newest first), for the given meters. */
export function latestQuality(items: QualityRecord[], series: string[]): QualityRecord[] {
  const wanted = new Set(series);
  const seen = new Map<string, QualityRecord>();
  for (const item of items) if (wanted.has(item.series) && !seen.has(item.series)) seen.set(item.series, item);
  return series.map((name) => seen.get(name)).filter((item): item is QualityRecord => item !== undefined);
}

export type Flag = "gaps" | "outliers" | "duplicates" | "outOfOrder";

/** What a quality report warns of: gaps above 1 % missing, any outlier, duplicate or out-of-order row. */
export function qualityFlags(record: QualityRecord): Flag[] {
  const flags: Flag[] = [];
  if (record.missing_rate > 0.01) flags.push("gaps");
  if (record.outliers > 0) flags.push("outliers");
  if (record.duplicates > 0) flags.push("duplicates");
  if (record.out_of_order > 0) flags.push("outOfOrder");
  return flags;
}
