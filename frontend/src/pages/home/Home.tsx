import { useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import { api } from "../../api/client";
import { allows } from "../../api/roles";
import type { AlertList, AlertRead, Kpis, MeterList, ReadingPoint, ReadingSeries, StatusSummary } from "../../api/types";
import { useAuth } from "../../auth/context";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { KpiGrid } from "../../components/KpiGrid";
import { LazyPowerChart } from "../../components/LazyPowerChart";
import { LunaChat } from "../../components/luna/LunaChat";
import { dateTime, duration, withUnit } from "../../format";
import { withParams } from "../../links";
import { homeLink, pickSite } from "./linkParams";
import { periods, sumByTime } from "./periods";
import { PlanCard } from "./PlanCard";
import { RecommendCard } from "./RecommendCard";

function KpiPanel({ title, site, range }: { title: string; site: string; range: { from: string; to: string } }) {
  const { t } = useTranslation();
  const kpis = useQuery({
    queryKey: ["kpis", site, range.from, range.to],
    queryFn: ({ signal }) => api<Kpis>("/kpis", { query: { site, ...range }, signal }),
  });
  return (
    <Card title={title} actions={<span className="text-xs text-slate-600 dark:text-slate-400">{t("home.since", { time: dateTime(range.from) })}</span>}>
      {kpis.isPending ? (
        <Loading />
      ) : kpis.isError ? (
        <ErrorNote error={kpis.error} />
      ) : (
        <KpiGrid kpis={kpis.data} peakWithDate={Date.parse(range.to) - Date.parse(range.from) > 86_400_000} />
      )}
    </Card>
  );
}

function SiteChart({ meterIds, range }: { meterIds: string[]; range: { from: string; to: string } }) {
  const { t } = useTranslation();
  const results = useQueries({
    queries: meterIds.map((meterId) => ({
      queryKey: ["readings", meterId, range.from, range.to, "1h"],
      queryFn: ({ signal }: { signal: AbortSignal }) =>
        api<ReadingSeries>("/timeseries/readings", { query: { meter_id: meterId, ...range, bucket: "1h", agg: "avg" }, signal }),
    })),
  });
  const failed = results.find((result) => result.isError);
  const ready = results.every((result) => result.isSuccess);
  const summed = useMemo(() => (ready ? sumByTime(results.map((result) => result.data as ReadingSeries)) : null), [ready, results]);
  return (
    <Card title={`${t("home.chartTitle")} (kW)`} className="lg:col-span-2">
      {failed ? (
        <ErrorNote error={failed.error} />
      ) : summed === null ? (
        <Loading />
      ) : (
        <LazyPowerChart
          unit="kW"
          label={`${t("home.chartTitle")} (kW)`}
          series={[
            { name: `${t("home.chartConsumption")} (kW)`, color: "#38bdf8", points: summed.consumption },
            { name: `${t("home.chartProduction")} (kW)`, color: "#facc15", points: summed.production },
          ]}
        />
      )}
    </Card>
  );
}

function StatusCard() {
  const { t } = useTranslation();
  const { caller } = useAuth();
  const status = useQuery({
    queryKey: ["status-summary"],
    queryFn: ({ signal }) => api<StatusSummary>("/status/summary", { signal }),
    refetchInterval: 30_000,
  });
  if (status.isPending) return <Card title={t("home.status")}><Loading /></Card>;
  if (status.isError) return <Card title={t("home.status")}><ErrorNote error={status.error} /></Card>;
  const backends = status.data.backends;
  const ok = backends.filter((backend) => backend.ok).length;
  const alerts = Object.entries(status.data.decisions.open_alerts);
  return (
    <Card title={t("home.status")} actions={allows(caller?.role, "admin") ? <Link className="text-sm text-sky-700 underline dark:text-sky-300" to="/console/system">{t("home.systemLink")}</Link> : undefined}>
      <p className={`mb-2 font-semibold ${ok === backends.length ? "text-emerald-700 dark:text-emerald-400" : "text-red-700 dark:text-red-400"}`}>
        {ok === backends.length ? "●" : "▲"} {t("home.backendsOk", { ok, total: backends.length })}
      </p>
      <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-sm">
        <dt className="text-slate-600 dark:text-slate-400">{t("home.version")}</dt>
        <dd>{status.data.version}</dd>
        <dt className="text-slate-600 dark:text-slate-400">{t("home.uptime")}</dt>
        <dd>{duration(status.data.uptime_s)}</dd>
        <dt className="text-slate-600 dark:text-slate-400">{t("home.rules")}</dt>
        <dd>
          {status.data.decisions.rules_enabled} / {status.data.decisions.rules}
        </dd>
        <dt className="text-slate-600 dark:text-slate-400">{t("home.documents")}</dt>
        <dd>{status.data.knowledge?.documents ?? "–"}</dd>
        <dt className="text-slate-600 dark:text-slate-400">{t("home.alerts")}</dt>
        <dd>{alerts.length === 0 ? 0 : alerts.map(([severity, count]) => `${count} ${severity}`).join(", ")}</dd>
      </dl>
    </Card>
  );
}

const SEVERITY: Record<string, string> = {
  critical: "bg-red-100 text-red-900 dark:bg-red-900 dark:text-red-50",
  warning: "bg-amber-100 text-amber-900 dark:bg-amber-800 dark:text-amber-50",
  info: "bg-sky-100 text-sky-900 dark:bg-sky-900 dark:text-sky-50",
};

function AlertsCard() {
  const { t } = useTranslation();
  const { caller } = useAuth();
  const queryClient = useQueryClient();
  const alerts = useQuery({
    queryKey: ["alerts", "open"],
    queryFn: ({ signal }) => api<AlertList>("/alerts", { query: { acknowledged: false, limit: 5 }, signal }),
  });
  const acknowledge = useMutation({
    mutationFn: (alert: AlertRead) => api<AlertRead>(`/alerts/${alert.alert_id}/acknowledge`, { method: "POST" }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["alerts"] }),
  });
  const canWrite = allows(caller?.role, "analyst");
  return (
    <Card title={t("home.alerts")} actions={alerts.data ? <span className="text-xs text-slate-600 dark:text-slate-400">{t("home.alertsMore", { count: alerts.data.total })}</span> : undefined}>
      {alerts.isPending ? (
        <Loading />
      ) : alerts.isError ? (
        <ErrorNote error={alerts.error} />
      ) : alerts.data.items.length === 0 ? (
        <p className="text-sm">{t("home.noAlerts")}</p>
      ) : (
        <ul className="space-y-2" data-testid="alerts">
          {alerts.data.items.map((alert) => (
            <li key={alert.alert_id} className="flex items-start gap-2 text-sm">
              <span className={`rounded px-1.5 py-0.5 text-xs font-semibold ${SEVERITY[alert.severity] ?? SEVERITY.info}`}>{alert.severity}</span>
              <span className="min-w-0 flex-1 break-words">
                {alert.message}
                <span className="block text-xs text-slate-600 dark:text-slate-400">
                  {[alert.meter_id, dateTime(alert.start_at)].filter(Boolean).join(" · ")}
                </span>
              </span>
              {canWrite && (
                <button
                  type="button"
                  disabled={acknowledge.isPending}
                  onClick={() => acknowledge.mutate(alert)}
                  className="shrink-0 rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800"
                >
                  {t("home.acknowledge")}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {acknowledge.isError && <ErrorNote error={acknowledge.error} />}
    </Card>
  );
}

function LatestReadings({ meters }: { meters: MeterList["items"] }) {
  const { t } = useTranslation();
  const results = useQueries({
    queries: meters.map((meter) => ({
      queryKey: ["latest", meter.meter_id],
      queryFn: ({ signal }: { signal: AbortSignal }) => api<ReadingPoint>("/timeseries/readings/latest", { query: { meter_id: meter.meter_id }, signal }),
      refetchInterval: 30_000,
    })),
  });
  return (
    <Card title={t("home.latest")} className="lg:col-span-2">
      <div className="overflow-x-auto">
        <table className="w-full text-left text-sm" data-testid="latest">
          <thead className="text-xs uppercase text-slate-600 dark:text-slate-400">
            <tr>
              <th className="py-1 pr-3">{t("home.meter")}</th>
              <th className="py-1 pr-3">{t("home.kind")}</th>
              <th className="py-1 pr-3">{t("home.time")}</th>
              <th className="py-1 pr-3 text-right">{t("home.consumption")} (kW)</th>
              <th className="py-1 pr-3 text-right">{t("home.production")} (kW)</th>
              <th className="py-1 text-right">{t("home.voltage")} (V)</th>
            </tr>
          </thead>
          <tbody>
            {meters.map((meter, index) => {
              const result = results[index];
              const point = result?.data;
              return (
                <tr key={meter.meter_id} className="border-t border-slate-200 dark:border-slate-800">
                  <td className="py-1 pr-3 font-mono text-xs">{meter.meter_id}</td>
                  <td className="py-1 pr-3">{meter.kind}</td>
                  {result?.isError ? (
                    <td colSpan={4} className="py-1"><ErrorNote error={result.error} /></td>
                  ) : (
                    <>
                      <td className="py-1 pr-3">{point ? dateTime(point.ts) : "…"}</td>
                      <td className="py-1 pr-3 text-right tabular-nums">{withUnit(point?.consumption_kw, "kW", 2)}</td>
                      <td className="py-1 pr-3 text-right tabular-nums">{withUnit(point?.production_kw, "kW", 2)}</td>
                      <td className="py-1 text-right tabular-nums">{withUnit(point?.voltage, "V", 1)}</td>
                    </>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

export function Home() {
  const { t } = useTranslation();
  const [range] = useState(() => periods());
  const meters = useQuery({ queryKey: ["meters"], queryFn: ({ signal }) => api<MeterList>("/meters", { query: { limit: 1000 }, signal }) });
  const sites = useMemo(() => [...new Set((meters.data?.items ?? []).map((meter) => meter.site))].sort(), [meters.data]);
  // Luna links here with ?site=…&day=… for the plan card (read once; unknown site or bad day: defaults).
  const [params, setParams] = useSearchParams();
  const [link] = useState(() => homeLink(params));
  const [chosen, setChosen] = useState<string | null>(null);
  const site = pickSite(chosen, link.site, sites);
  const choose = (next: string) => {
    setChosen(next);
    setParams((current) => withParams(current, { site: next }), { replace: true });
  };
  const siteMeters = (meters.data?.items ?? []).filter((meter) => meter.site === site);
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-semibold">{t("home.title")}</h1>
        {sites.length > 0 && (
          <label className="flex items-center gap-2 text-sm">
            {t("home.site")}
            <select value={site ?? ""} onChange={(event) => choose(event.target.value)} className="rounded border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-900">
              {sites.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {meters.isError && <ErrorNote error={meters.error} />}
      {meters.isPending && <Loading />}
      {meters.isSuccess && sites.length === 0 && <p>{t("common.noData")}</p>}
      <div className="grid gap-4 lg:grid-cols-2">
        {site && <KpiPanel title={t("home.today")} site={site} range={range.today} />}
        {site && <KpiPanel title={t("home.month")} site={site} range={range.month} />}
        {site && siteMeters.length > 0 && <SiteChart meterIds={siteMeters.map((meter) => meter.meter_id)} range={range.last48h} />}
        <RecommendCard />
        {site && <PlanCard site={site} day={link.day} tz={link.tz} />}
        <StatusCard />
        <AlertsCard />
        {siteMeters.length > 0 && <LatestReadings meters={siteMeters} />}
        <Card title={t("luna.chat.insightTitle")} className="lg:col-span-2">
          <LunaChat compact />
        </Card>
      </div>
    </div>
  );
}
