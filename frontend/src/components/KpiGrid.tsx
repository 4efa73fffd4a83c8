// The KPI figures of GET /kpis as a grid (Home's today and month, the smart-meter page's shown period):
// one rendering, so the same numbers look the same wherever they appear (and match Luna's KPI answers).
import { useTranslation } from "react-i18next";
import type { Kpis } from "../api/types";
import { dateTime, energy, euro, percent, time, withUnit } from "../format";

function Kpi({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <div className="rounded-md border border-slate-200 p-3 dark:border-slate-800">
      <dt className="text-xs font-medium uppercase tracking-wide text-slate-600 dark:text-slate-400">{label}</dt>
      <dd className="mt-1 text-xl font-semibold tabular-nums">{value}</dd>
      {hint && <dd className="text-xs text-slate-600 dark:text-slate-400">{hint}</dd>}
    </div>
  );
}

/** `peakWithDate`: the peak's date as well as its time (periods longer than a day). */
export function KpiGrid({ kpis, testId = "kpis", peakWithDate = false }: { kpis: Kpis; testId?: string; peakWithDate?: boolean }) {
  const { t } = useTranslation();
  return (
    <>
      <dl className="grid grid-cols-2 gap-2 sm:grid-cols-3" data-testid={testId}>
        <Kpi label={t("home.consumption")} value={energy(kpis.consumption_kwh)} />
        <Kpi label={t("home.production")} value={energy(kpis.production_kwh)} />
        <Kpi label={t("home.selfConsumption")} value={percent(kpis.self_consumption_rate)} />
        <Kpi label={t("home.autarky")} value={percent(kpis.autarky_rate)} />
        <Kpi label={t("home.peak")} value={withUnit(kpis.peak_load_kw, "kW")} hint={kpis.peak_load_at ? (peakWithDate ? dateTime(kpis.peak_load_at) : time(kpis.peak_load_at)) : undefined} />
        <Kpi label={t("home.cost")} value={euro(kpis.net_cost_eur)} hint={t("home.pricedShare", { value: percent(kpis.priced_share) })} />
      </dl>
      <p className="mt-2 text-xs text-slate-600 dark:text-slate-400">{t("home.coverage", { value: percent(kpis.coverage) })}</p>
    </>
  );
}
