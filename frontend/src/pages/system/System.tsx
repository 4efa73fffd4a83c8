import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import type { Readiness, StatusSummary } from "../../api/types";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { dateTime, duration, withUnit } from "../../format";
import { jobMetrics } from "./metrics";

const cell = "py-1.5 pr-3 align-top";

function ReadinessCard() {
  const { t } = useTranslation();
  // With a key, /health/ready names hosts, paths and errors; 503 (not ready) is data here, not an error.
  const ready = useQuery({
    queryKey: ["ready"],
    queryFn: ({ signal }) => api<Readiness>("/health/ready", { signal, accept: [503] }),
    refetchInterval: 15_000,
  });
  if (ready.isPending) return <Card title={t("system.readiness")}><Loading /></Card>;
  if (ready.isError) return <Card title={t("system.readiness")}><ErrorNote error={ready.error} /></Card>;
  const { status, failing, components } = ready.data;
  return (
    <Card title={t("system.readiness")}>
      <p data-testid="readiness" className={`mb-3 font-semibold ${status === "ready" ? "text-emerald-700 dark:text-emerald-400" : "text-red-700 dark:text-red-400"}`}>
        {status === "ready" ? `● ${t("system.ready")}` : `▲ ${t("system.notReady", { failing: failing.join(", ") })}`}
      </p>
      <div className="overflow-x-auto">
        <table className="w-full text-left text-sm">
          <thead className="text-xs uppercase text-slate-600 dark:text-slate-400">
            <tr>
              <th className={cell}>{t("system.component")}</th>
              <th className={cell}>{t("system.kind")}</th>
              <th className={cell}>{t("system.required")}</th>
              <th className={cell}>{t("system.state")}</th>
              <th className={cell}>{t("system.detail")}</th>
            </tr>
          </thead>
          <tbody>
            {components.map((component) => (
              <tr key={component.name} className="border-t border-slate-200 dark:border-slate-800">
                <td className={`${cell} font-medium`}>{component.name}</td>
                <td className={cell}>{component.kind}</td>
                <td className={cell}>{component.required ? t("common.yes") : t("common.no")}</td>
                <td className={`${cell} ${component.ok ? "text-emerald-700 dark:text-emerald-400" : "text-red-700 dark:text-red-400"}`}>
                  {component.ok ? `● ${t("system.ok")}` : `▲ ${t("system.failing")}`}
                </td>
                <td className={`${cell} break-all text-xs`}>{component.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

function JobsCard({ summary }: { summary: StatusSummary }) {
  const { t } = useTranslation();
  const metrics = useQuery({
    queryKey: ["metrics-text"],
    queryFn: async ({ signal }) => {
      const response = await fetch("/metrics", { signal });
      return jobMetrics(await response.text());
    },
    refetchInterval: 30_000,
  });
  const jobs = summary.decisions.jobs;
  return (
    <Card title={t("system.jobs")}>
      {jobs === null || jobs === undefined || jobs.length === 0 ? (
        <p className="text-sm">{t("system.noJobs")}</p>
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full text-left text-sm" data-testid="jobs">
            <thead className="text-xs uppercase text-slate-600 dark:text-slate-400">
              <tr>
                <th className={cell}>{t("system.job")}</th>
                <th className={cell}>{t("system.lastRun")}</th>
                <th className={`${cell} text-right`}>{t("system.failures")}</th>
                <th className={`${cell} text-right`}>{t("system.meanDuration")} (s)</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((job) => {
                const measured = metrics.data?.get(job.job_id);
                return (
                  <tr key={job.job_id} className="border-t border-slate-200 dark:border-slate-800">
                    <td className={`${cell} font-mono text-xs`}>{job.job_id}</td>
                    <td className={cell}>{job.last_run_at ? dateTime(job.last_run_at) : t("common.never")}</td>
                    <td className={`${cell} text-right tabular-nums ${measured && measured.failures > 0 ? "font-semibold text-red-700 dark:text-red-400" : ""}`}>
                      {measured ? measured.failures : "–"}
                    </td>
                    <td className={`${cell} text-right tabular-nums`}>{withUnit(measured?.meanSeconds, "s", 3)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

function DatabaseCard({ summary }: { summary: StatusSummary }) {
  const { t } = useTranslation();
  const database = summary.database;
  return (
    <Card title={t("system.database")}>
      <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-sm">
        <dt className="text-slate-600 dark:text-slate-400">{t("system.kind")}</dt>
        <dd>{database.kind}</dd>
        <dt className="text-slate-600 dark:text-slate-400">{t("system.schema")}</dt>
        <dd className="font-mono text-xs">{database.schema_revision ?? "–"}</dd>
        <dt className="text-slate-600 dark:text-slate-400">{t("system.storage")}</dt>
        <dd>{database.time_series_storage}</dd>
        <dt className="text-slate-600 dark:text-slate-400">{t("system.environment")}</dt>
        <dd>
          {summary.environment} · {summary.version} · {duration(summary.uptime_s)}
        </dd>
      </dl>
      <h3 className="mb-1 mt-3 text-sm font-semibold">{t("system.rows")}</h3>
      <dl className="grid grid-cols-1 gap-x-6 gap-y-0.5 text-xs sm:grid-cols-2">
        {Object.entries(database.row_counts).map(([table, rows]) => (
          <div key={table} className="flex justify-between gap-2">
            <dt className="break-all font-mono">{table}</dt>
            <dd className="tabular-nums">{rows.toLocaleString()}</dd>
          </div>
        ))}
      </dl>
    </Card>
  );
}

export function System() {
  const { t } = useTranslation();
  const summary = useQuery({
    queryKey: ["status-summary"],
    queryFn: ({ signal }) => api<StatusSummary>("/status/summary", { signal }),
    refetchInterval: 30_000,
  });
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-semibold">{t("system.title")}</h1>
      <ReadinessCard />
      {summary.isPending && <Loading />}
      {summary.isError && <ErrorNote error={summary.error} />}
      {summary.isSuccess && (
        <div className="grid gap-4 xl:grid-cols-2">
          <JobsCard summary={summary.data} />
          <DatabaseCard summary={summary.data} />
        </div>
      )}
      {summary.isSuccess && <p className="text-xs text-slate-600 dark:text-slate-400">{t("common.updated", { time: dateTime(new Date(summary.dataUpdatedAt).toISOString()) })}</p>}
    </div>
  );
}
