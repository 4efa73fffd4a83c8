import { useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { api } from "../../api/client";
import { allows } from "../../api/roles";
import type { components } from "../../api/schema";
import type { Kpis, MeterList, MeterRead, ReadingColumns, ReadingPoint } from "../../api/types";
import { useAuth } from "../../auth/context";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { KpiGrid } from "../../components/KpiGrid";
import { useTheme } from "../../components/theme";
import { dateTime, duration, num, percent, withUnit } from "../../format";
import { LazyEChart } from "../energy/LazyEChart";
import { palette } from "../energy/palette";
import { iso } from "../energy/time";
import "./i18n";
import { linkWindow, metersLink, siteScope, type LinkWindow } from "./linkParams";
import { withParams } from "../../links";
import { aggsFor, bucketsFor, bucketsForHours, fitBucket, fitBucketHours, gapBuckets, latestQuality, newest, qualityFlags, RANGES, seriesOf, unitFor, type Agg, type Bucket, type RangeId } from "./meterData";
import { trendOption } from "./options";

type SimStatus = components["schemas"]["SimStatus"];
type QualityList = components["schemas"]["QualityList"];

export const LIVE_MS = 5_000;
const muted = "text-slate-600 dark:text-slate-400";
const control = "rounded border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-900";
const button = `${control} hover:bg-slate-100 dark:hover:bg-slate-800 disabled:opacity-50`;

interface Scope {
  kind: "site" | "meter";
  name: string;
  meters: MeterRead[];
}

function useNow(everyMs: number) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

function LiveCard({ scope }: { scope: Scope }) {
  const { t } = useTranslation();
  const now = useNow(1_000);
  const results = useQueries({
    queries: scope.meters.map((meter) => ({
      queryKey: ["latest", meter.meter_id],
      queryFn: ({ signal }: { signal: AbortSignal }) => api<ReadingPoint>("/timeseries/readings/latest", { query: { meter_id: meter.meter_id }, signal }),
      refetchInterval: LIVE_MS,
      staleTime: 0,
    })),
  });
  const latest = newest(results.map((result) => result.data));
  const total = (field: "consumption_kw" | "production_kw") => results.reduce((sum, result) => sum + (result.data?.[field] ?? 0), 0);
  return (
    <Card
      title={t("smartMeters.live")}
      className="lg:col-span-2"
      actions={<span className={`text-xs ${muted}`}>{t("smartMeters.every", { seconds: LIVE_MS / 1000 })}</span>}
    >
      <p className="mb-2 text-sm font-medium" data-testid="newest-reading" aria-live="polite">
        {latest === null ? t("smartMeters.noReading") : `${t("smartMeters.newest", { time: dateTime(new Date(latest).toISOString()) })} ${t("smartMeters.ago", { age: duration(Math.max(0, Math.round((now - latest) / 1000))) })}`}
      </p>
      <div className="overflow-x-auto">
        <table className="w-full text-left text-sm" data-testid="live">
          <thead className={`text-xs uppercase ${muted}`}>
            <tr>
              <th className="py-1 pr-3">{t("smartMeters.colMeter")}</th>
              <th className="py-1 pr-3">{t("smartMeters.colKind")}</th>
              <th className="py-1 pr-3">{t("smartMeters.colTime")}</th>
              <th className="py-1 pr-3 text-right">{t("smartMeters.colConsumption")} (kW)</th>
              <th className="py-1 pr-3 text-right">{t("smartMeters.colProduction")} (kW)</th>
              <th className="py-1 text-right">{t("smartMeters.colVoltage")} (V)</th>
            </tr>
          </thead>
          <tbody>
            {scope.meters.map((meter, index) => {
              const result = results[index];
              const point = result?.data;
              return (
                <tr key={meter.meter_id} className="border-t border-slate-200 dark:border-slate-800">
                  <td className="py-1 pr-3 font-mono text-xs">{meter.meter_id}</td>
                  <td className="py-1 pr-3">{meter.kind}</td>
                  {result?.isError ? (
                    <td colSpan={4} className="py-1">
                      <ErrorNote error={result.error} />
                    </td>
                  ) : (
                    <>
                      <td className="py-1 pr-3 tabular-nums">{point ? dateTime(point.ts) : "…"}</td>
                      <td className="py-1 pr-3 text-right tabular-nums">{withUnit(point?.consumption_kw, "kW", 2)}</td>
                      <td className="py-1 pr-3 text-right tabular-nums">{withUnit(point?.production_kw, "kW", 2)}</td>
                      <td className="py-1 text-right tabular-nums">{withUnit(point?.voltage, "V", 1)}</td>
                    </>
                  )}
                </tr>
              );
            })}
            {scope.kind === "site" && scope.meters.length > 1 && (
              <tr className="border-t-2 border-slate-300 font-semibold dark:border-slate-700">
                <td className="py-1 pr-3" colSpan={3}>
                  {t("smartMeters.siteTotal")}
                </td>
                <td className="py-1 pr-3 text-right tabular-nums">{withUnit(total("consumption_kw"), "kW", 2)}</td>
                <td className="py-1 pr-3 text-right tabular-nums">{withUnit(total("production_kw"), "kW", 2)}</td>
                <td />
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

function SimCard() {
  const { t } = useTranslation();
  const { caller } = useAuth();
  const queryClient = useQueryClient();
  const status = useQuery({ queryKey: ["sim-status"], queryFn: ({ signal }) => api<SimStatus>("/sim/status", { signal }), refetchInterval: LIVE_MS, staleTime: 0 });
  const change = useMutation({
    mutationFn: (action: "start" | "stop") => api<SimStatus>(`/sim/${action}`, { method: "POST", body: action === "start" ? {} : undefined }),
    onSuccess: (data) => {
      queryClient.setQueryData(["sim-status"], data);
      void queryClient.invalidateQueries({ queryKey: ["latest"] });
    },
  });
  const canRun = allows(caller?.role, "analyst");
  const s = status.data;
  return (
    <Card
      title={t("smartMeters.sim")}
      actions={
        canRun && s ? (
          s.running ? (
            <button type="button" className={button} disabled={change.isPending} onClick={() => change.mutate("stop")}>
              {t("smartMeters.stop")}
            </button>
          ) : (
            <button type="button" className={button} disabled={change.isPending} onClick={() => change.mutate("start")}>
              {t("smartMeters.start")}
            </button>
          )
        ) : undefined
      }
    >
      {status.isPending ? (
        <Loading />
      ) : status.isError ? (
        <ErrorNote error={status.error} />
      ) : (
        <div className="space-y-1 text-sm" data-testid="sim-status">
          <p className={`font-semibold ${status.data.running ? "text-emerald-700 dark:text-emerald-400" : ""}`}>
            {status.data.running ? `● ${t("smartMeters.simRunning", { seconds: num(status.data.interval_s, 0) })}` : `○ ${t("smartMeters.simStopped")}`}
          </p>
          {status.data.started_at && <p className={muted}>{t("smartMeters.simStarted", { time: dateTime(status.data.started_at) })}</p>}
          {status.data.last_write && <p className={muted}>{t("smartMeters.simLastWrite", { time: dateTime(status.data.last_write) })}</p>}
          <p className={muted}>{t("smartMeters.simRows", { count: status.data.rows_written })}</p>
          {status.data.last_error && <p className="text-red-700 dark:text-red-400">{t("smartMeters.simError", { message: status.data.last_error })}</p>}
          {!canRun && <p className={`text-xs ${muted}`}>{t("smartMeters.simViewer")}</p>}
        </div>
      )}
      {change.isError && <ErrorNote error={change.error} />}
    </Card>
  );
}

function Select<T extends string>({ label, value, options, onChange, text }: { label: string; value: T; options: readonly T[]; onChange: (value: T) => void; text: (value: T) => string }) {
  return (
    <label className="flex items-center gap-1.5 text-sm">
      {label}
      <select className={control} value={value} onChange={(event) => onChange(event.target.value as T)}>
        {options.map((option) => (
          <option key={option} value={option}>
            {text(option)}
          </option>
        ))}
      </select>
    </label>
  );
}

function TrendCard({ scope, scopeLabel, linked, onRange }: { scope: Scope; scopeLabel: string; linked: LinkWindow | null; onRange: () => void }) {
  const { t } = useTranslation();
  const [theme] = useTheme();
  const [range, setRange] = useState<RangeId>("7d");
  // A linked period (Luna's citation) is shown exactly, as an extra "range" until the user picks a preset.
  const [link, setLink] = useState<LinkWindow | null>(linked);
  const [chosenBucket, setBucket] = useState<Bucket>("1h");
  const [chosenAgg, setAgg] = useState<Agg>("avg");
  const aggs = aggsFor(scope.kind);
  const agg = aggs.includes(chosenAgg) ? chosenAgg : "avg";
  const [now] = useState(() => Math.ceil(Date.now() / 900_000) * 900_000);
  const hours = link ? (link.to - link.from) / 3_600_000 : (RANGES.find((r) => r.id === range)?.hours ?? 24);
  const bucket = link ? fitBucketHours(hours, chosenBucket) : fitBucket(range, chosenBucket);
  const to = link ? link.to : now;
  const from = link ? link.from : to - hours * 3_600_000;
  const rangeIds: (RangeId | "link")[] = [...(link ? ["link" as const] : []), ...RANGES.map((r) => r.id)];
  const rangeText = (v: RangeId | "link") =>
    v !== "link" ? t(`smartMeters.ranges.${v}`) : link && link.first !== link.last ? t("smartMeters.linkRange", { first: link.first, last: link.last }) : t("smartMeters.linkDay", { day: link?.first });
  const pickRange = (v: RangeId | "link") => {
    if (v === "link") return;
    setLink(null);
    setRange(v);
    onRange();
  };
  const results = useQueries({
    queries: scope.meters.map((meter) => ({
      queryKey: ["readings", meter.meter_id, from, to, bucket, agg],
      queryFn: ({ signal }: { signal: AbortSignal }) =>
        api<ReadingColumns>("/timeseries/readings/columns", { query: { meter_id: meter.meter_id, from: iso(from), to: iso(to), bucket, agg }, signal }),
      staleTime: 60_000,
    })),
  });
  const failed = results.find((result) => result.isError);
  const ready = results.length > 0 && results.every((result) => result.isSuccess);
  const dataAt = ready ? Math.max(...results.map((result) => result.dataUpdatedAt)) : undefined;
  const data = ready ? results.map((result) => result.data as ReadingColumns) : null;
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const shaped = useMemo(() => (data ? seriesOf(data, agg) : null), [dataAt, agg]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const gaps = useMemo(() => (data ? gapBuckets(data) : 0), [dataAt]);
  const unit = unitFor(agg);
  const names = { consumption: `${t("smartMeters.consumption")} (${unit})`, production: `${t("smartMeters.production")} (${unit})` };
  const option = useMemo(
    () =>
      shaped &&
      trendOption(
        [
          { name: names.consumption, data: shaped.consumption },
          ...(shaped.production.some(([, v]) => v > 0) ? [{ name: names.production, data: shaped.production }] : []),
        ],
        unit,
        palette(theme === "dark"),
      ),
    [shaped, unit, theme, names.consumption, names.production],
  );
  const [rendered, setRendered] = useState<{ at: number; ms: number } | null>(null);
  const points = shaped ? Math.max(shaped.consumption.length, shaped.production.length) : 0;
  const label = t("smartMeters.chart", { what: t(`smartMeters.aggs.${agg}`), scope: scopeLabel, bucket: t(`smartMeters.buckets.${bucket}`), unit });
  return (
    <>
      <Card
        title={t("smartMeters.trend")}
        className="lg:col-span-3"
        actions={
          <div className="flex flex-wrap items-center gap-3">
            <Select label={t("smartMeters.range")} value={link ? "link" : range} options={rangeIds} onChange={pickRange} text={rangeText} />
            <Select label={t("smartMeters.bucket")} value={bucket} options={link ? bucketsForHours(hours) : bucketsFor(range)} onChange={setBucket} text={(v) => t(`smartMeters.buckets.${v}`)} />
            <Select label={t("smartMeters.agg")} value={agg} options={aggs} onChange={setAgg} text={(v) => t(`smartMeters.aggs.${v}`)} />
          </div>
        }
      >
        {scope.kind === "site" && <p className={`mb-1 text-xs ${muted}`}>{t("smartMeters.siteAggs")}</p>}
        {failed ? (
          <ErrorNote error={failed.error} />
        ) : !option || !shaped ? (
          <Loading />
        ) : (
          <>
            <p className="mb-1 text-sm font-medium">{label}</p>
            <LazyEChart option={option} label={label} testId="trend-chart" height={340} dataAt={dataAt} onRendered={(ms) => setRendered({ at: dataAt ?? 0, ms })} />
            <p className={`mt-1 text-xs ${muted}`} data-testid="trend-stats" data-points={points} data-render-ms={rendered && rendered.at === dataAt ? rendered.ms : ""} data-rendered-at={rendered && rendered.at === dataAt ? rendered.at + rendered.ms : ""}>
              {t("smartMeters.points", { count: points })}
              {rendered && rendered.at === dataAt ? ` · ${t("smartMeters.drawn", { ms: rendered.ms })}` : ""} · {gaps ? t("smartMeters.gaps", { count: gaps }) : t("smartMeters.noGaps")}
            </p>
            {data?.some((series) => series.truncated) && <p role="alert">{t("smartMeters.truncated")}</p>}
          </>
        )}
      </Card>
      <TotalsCard scope={scope} from={from} to={to} />
    </>
  );
}

/** GET /kpis for the scope over the window the trend shows: energy, peak, autarky, cost, coverage. */
function TotalsCard({ scope, from, to }: { scope: Scope; from: number; to: number }) {
  const { t } = useTranslation();
  const which = scope.kind === "site" ? { site: scope.name } : { meter_id: scope.name };
  const kpis = useQuery({
    queryKey: ["kpis", scope.kind, scope.name, from, to],
    queryFn: ({ signal }) => api<Kpis>("/kpis", { query: { ...which, from: iso(from), to: iso(to) }, signal }),
    staleTime: 60_000,
  });
  return (
    <Card title={t("smartMeters.totals")} className="lg:col-span-3">
      <p className={`mb-2 text-xs ${muted}`}>{t("smartMeters.totalsIntro", { from: dateTime(iso(from)), to: dateTime(iso(to)) })}</p>
      {kpis.isPending ? <Loading /> : kpis.isError ? <ErrorNote error={kpis.error} /> : <KpiGrid kpis={kpis.data} testId="period-kpis" peakWithDate={to - from > 86_400_000} />}
    </Card>
  );
}

function QualityCard({ scope }: { scope: Scope }) {
  const { t } = useTranslation();
  const single = scope.kind === "meter" ? scope.meters[0]?.meter_id : undefined;
  const quality = useQuery({
    queryKey: ["quality", single ?? "all"],
    queryFn: ({ signal }) => api<QualityList>("/quality", { query: { meter_id: single, limit: single ? 20 : 500 }, signal }),
  });
  const rows = useMemo(() => latestQuality(quality.data?.items ?? [], scope.meters.map((meter) => meter.meter_id)), [quality.data, scope.meters]);
  return (
    <Card title={t("smartMeters.quality")} className="lg:col-span-3">
      <p className={`mb-2 text-xs ${muted}`}>{t("smartMeters.qualityIntro")}</p>
      {quality.isPending ? (
        <Loading />
      ) : quality.isError ? (
        <ErrorNote error={quality.error} />
      ) : rows.length === 0 ? (
        <p className="text-sm">{t("smartMeters.noQuality")}</p>
      ) : (
        <div className="overflow-x-auto">
          <table className="w-full text-left text-sm" data-testid="quality">
            <thead className={`text-xs uppercase ${muted}`}>
              <tr>
                <th className="py-1 pr-3">{t("smartMeters.colMeter")}</th>
                <th className="py-1 pr-3">{t("smartMeters.colBatch")}</th>
                <th className="py-1 pr-3 text-right">{t("smartMeters.colRows")}</th>
                <th className="py-1 pr-3 text-right">{t("smartMeters.colMissing")} (%)</th>
                <th className="py-1 pr-3 text-right">{t("smartMeters.colOutliers")}</th>
                <th className="py-1 pr-3 text-right">{t("smartMeters.colDuplicates")}</th>
                <th className="py-1 pr-3 text-right">{t("smartMeters.colOrder")}</th>
                <th className="py-1">{t("smartMeters.colStatus")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => {
                const flags = qualityFlags(row);
                return (
                  <tr key={row.series} className="border-t border-slate-200 dark:border-slate-800">
                    <td className="py-1 pr-3 font-mono text-xs">{row.series}</td>
                    <td className="py-1 pr-3">{dateTime(row.created_at)}</td>
                    <td className="py-1 pr-3 text-right tabular-nums">
                      {num(row.rows, 0)} / {num(row.expected_rows, 0)}
                    </td>
                    <td className="py-1 pr-3 text-right tabular-nums">{percent(row.missing_rate)}</td>
                    <td className="py-1 pr-3 text-right tabular-nums">
                      {row.outliers} ({num(row.max_robust_z, 1)})
                    </td>
                    <td className="py-1 pr-3 text-right tabular-nums">{row.duplicates}</td>
                    <td className="py-1 pr-3 text-right tabular-nums">{row.out_of_order}</td>
                    <td className="py-1">
                      {flags.length === 0 ? (
                        <span className="rounded bg-emerald-100 px-1.5 py-0.5 text-xs font-semibold text-emerald-900 dark:bg-emerald-900 dark:text-emerald-50">{t("smartMeters.ok")}</span>
                      ) : (
                        flags.map((flag) => (
                          <span key={flag} className="mr-1 rounded bg-amber-100 px-1.5 py-0.5 text-xs font-semibold text-amber-900 dark:bg-amber-800 dark:text-amber-50">
                            {t(`smartMeters.flags.${flag}`)}
                          </span>
                        ))
                      )}
                    </td>
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

export default function Meters() {
  const { t } = useTranslation();
  const meters = useQuery({ queryKey: ["meters"], queryFn: ({ signal }) => api<MeterList>("/meters", { query: { limit: 1000 }, signal }) });
  const items = useMemo(() => meters.data?.items ?? [], [meters.data]);
  const sites = useMemo(() => [...new Set(items.map((meter) => meter.site))].sort(), [items]);
  // Luna links here with ?site=…&from=…&to=… (read once; an unknown site or a bad date: the defaults).
  const [params, setParams] = useSearchParams();
  const [link] = useState(() => metersLink(params));
  const [linked] = useState(() => (link.period ? linkWindow(link.period, link.tz) : null));
  const [chosen, setChosen] = useState<string | null>(null);
  const value = siteScope(chosen, link.site, sites);
  const choose = (next: string) => {
    setChosen(next);
    setParams((current) => withParams(current, { site: next.startsWith("site:") ? next.slice(5) : null }), { replace: true });
  };
  const presetRange = () => setParams((current) => withParams(current, { from: null, to: null, tz: null }), { replace: true });
  const scope = useMemo<Scope | null>(() => {
    const [kind, ...rest] = value.split(":");
    const name = rest.join(":");
    if (kind === "site") return { kind: "site", name, meters: items.filter((meter) => meter.site === name) };
    const meter = items.find((m) => m.meter_id === name);
    return meter ? { kind: "meter", name, meters: [meter] } : null;
  }, [value, items]);
  const scopeLabel = scope ? (scope.kind === "site" ? t("smartMeters.site", { site: scope.name }) : t("smartMeters.meter", { meter: scope.name })) : "";
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-semibold">{t("smartMeters.title")}</h1>
        {sites.length > 0 && (
          <label className="flex items-center gap-2 text-sm">
            {t("smartMeters.scope")}
            <select value={value} onChange={(event) => choose(event.target.value)} className={control} data-testid="scope">
              <optgroup label={t("smartMeters.sites")}>
                {sites.map((site) => (
                  <option key={site} value={`site:${site}`}>
                    {t("smartMeters.site", { site })}
                  </option>
                ))}
              </optgroup>
              <optgroup label={t("smartMeters.meters")}>
                {items.map((meter) => (
                  <option key={meter.meter_id} value={`meter:${meter.meter_id}`}>
                    {t("smartMeters.meter", { meter: `${meter.meter_id} (${meter.site})` })}
                  </option>
                ))}
              </optgroup>
            </select>
          </label>
        )}
      </div>
      {meters.isError && <ErrorNote error={meters.error} />}
      {meters.isPending && <Loading />}
      {meters.isSuccess && items.length === 0 && <p>{t("common.noData")}</p>}
      {scope && (
        <div className="grid gap-4 lg:grid-cols-3">
          <LiveCard scope={scope} />
          <SimCard />
          <TrendCard scope={scope} scopeLabel={scopeLabel} linked={linked} onRange={presetRange} />
          <QualityCard scope={scope} />
        </div>
      )}
    </div>
  );
}
