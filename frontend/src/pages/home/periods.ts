/** [start, end) of today and of this month in the browser's time zone, ending now (ISO 8601 with offset). */
export function periods(now: Date = new Date()) {
  const end = new Date(Math.ceil(now.getTime() / 60_000) * 60_000);
  const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const firstOfMonth = new Date(now.getFullYear(), now.getMonth(), 1);
  return {
    today: { from: midnight.toISOString(), to: end.toISOString() },
    month: { from: firstOfMonth.toISOString(), to: end.toISOString() },
    last48h: { from: new Date(end.getTime() - 48 * 3600_000).toISOString(), to: end.toISOString() },
  };
}

/** Sum the hourly series of several meters into one site series per field ([epoch ms, kW]). */
export function sumByTime(series: { points: { ts: string; consumption_kw?: number | null; production_kw?: number | null }[] }[]) {
  const consumption = new Map<number, number>();
  const production = new Map<number, number>();
  for (const one of series) {
    for (const point of one.points) {
      const at = Date.parse(point.ts);
      if (point.consumption_kw != null) consumption.set(at, (consumption.get(at) ?? 0) + point.consumption_kw);
      if (point.production_kw != null) production.set(at, (production.get(at) ?? 0) + point.production_kw);
    }
  }
  const sorted = (map: Map<number, number>) => [...map.entries()].sort((a, b) => a[0] - b[0]);
  return { consumption: sorted(consumption), production: sorted(production) };
}
