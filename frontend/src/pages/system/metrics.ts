/** Per job: failed runs and mean run time (s), from the Prometheus text of GET /metrics
 * (luna_job_failures_total, luna_job_duration_seconds_sum/_count). */
export function jobMetrics(text: string): Map<string, { failures: number; meanSeconds: number | null }> {
  const failures = new Map<string, number>();
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  const line = /^(luna_job_failures_total|luna_job_duration_seconds_sum|luna_job_duration_seconds_count)\{job="([^"]+)"\}\s+([0-9.eE+-]+)$/;
  for (const row of text.split("\n")) {
    const match = line.exec(row.trim());
    if (!match) continue;
    const [, name, job, value] = match as unknown as [string, string, string, string];
    const target = name.endsWith("failures_total") ? failures : name.endsWith("_sum") ? sums : counts;
    target.set(job, Number(value));
  }
  const jobs = new Map<string, { failures: number; meanSeconds: number | null }>();
  for (const job of new Set([...failures.keys(), ...counts.keys()])) {
    const count = counts.get(job) ?? 0;
    jobs.set(job, { failures: failures.get(job) ?? 0, meanSeconds: count > 0 ? (sums.get(job) ?? 0) / count : null });
  }
  return jobs;
}
