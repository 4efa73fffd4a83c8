import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { api } from "../../api/client";
import { allows } from "../../api/roles";
import { useAuth } from "../../auth/context";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { useTheme } from "../../components/theme";
import { dateTime, euro, num, withUnit } from "../../format";
import { btn, invalidFields } from "../admin/helpers";
import { LazyEChart } from "../energy/LazyEChart";
import { palette } from "../energy/palette";
import {
  batteryPower, comparison, DEFAULT_SLIDERS, draftOf, DRY_RUN_DAYS, firingRows, PLAN, planRequest, ruleUpdate, SLIDERS, socAndPrice, stackedFlows, WHATIF_DAYS, whatIfBody,
  type Evaluation, type Rule, type RuleDraft, type Row, type Scenario, type Schedule, type Sliders, type StackSeries,
} from "./data";
import "./i18n";
import { withParams } from "../../links";
import { linkedScenario } from "./linkParams";
import { firingsOption, flowsOption, socOption } from "./options";

const muted = "text-slate-600 dark:text-slate-400";
const input = "w-full rounded border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-900";
const bad = "border-red-600 dark:border-red-400";

function Step({ label, n }: { label: string; n: number }) {
  return (
    <span className="mr-2 inline-flex items-center rounded-full bg-sky-100 px-2 py-0.5 text-xs font-semibold text-sky-900 dark:bg-sky-900 dark:text-sky-100">
      {n}. {label}
    </span>
  );
}

function Stat({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div className="rounded-md border border-slate-200 p-3 dark:border-slate-800">
      <dt className={`text-xs font-medium uppercase tracking-wide ${muted}`}>{label}</dt>
      <dd className="mt-1 text-lg font-semibold tabular-nums" data-testid={testId}>
        {value}
      </dd>
    </div>
  );
}

function RuleEditor({ rule, onDone }: { rule: Rule; onDone: () => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [draft, setDraft] = useState<RuleDraft>(() => draftOf(rule));
  const save = useMutation({
    mutationFn: () => api<Rule>(`/rules/${rule.rule_id}`, { method: "PATCH", body: ruleUpdate(rule, draft) }),
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: ["playbook"] });
      onDone();
    },
  });
  const fields = invalidFields(save.error);
  const thenBad = fields.has("then");
  const set = (key: keyof RuleDraft) => (event: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) =>
    setDraft({ ...draft, [key]: event.target.type === "checkbox" ? (event.target as HTMLInputElement).checked : event.target.value });
  const id = (key: string) => `rule-${rule.rule_id}-${key}`;
  return (
    <form
      className="mt-2 space-y-2 rounded-md border border-slate-300 p-3 dark:border-slate-700"
      aria-label={t("playbook.editTitle", { name: rule.name })}
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate();
      }}
    >
      <h3 className="text-sm font-semibold">{t("playbook.editTitle", { name: rule.name })}</h3>
      <div>
        <label htmlFor={id("when")} className="text-sm font-medium">{t("playbook.when")}</label>
        <textarea id={id("when")} rows={2} className={`${input} font-mono ${fields.has("when") ? bad : ""}`} value={draft.when} onChange={set("when")} aria-invalid={fields.has("when")} aria-describedby={save.isError ? id("error") : undefined} />
      </div>
      <div>
        <label htmlFor={id("description")} className="text-sm font-medium">{t("playbook.description")}</label>
        <input id={id("description")} className={`${input} ${fields.has("description") ? bad : ""}`} value={draft.description} onChange={set("description")} aria-invalid={fields.has("description")} />
      </div>
      <div>
        <label htmlFor={id("message")} className="text-sm font-medium">{t("playbook.message")}</label>
        <input id={id("message")} className={`${input} ${thenBad ? bad : ""}`} value={draft.message} onChange={set("message")} aria-invalid={thenBad} />
      </div>
      <div className="grid gap-2 sm:grid-cols-3 sm:items-end">
        <div>
          <label htmlFor={id("for")} className="text-sm font-medium">{t("playbook.forMinutes")}</label>
          <input id={id("for")} inputMode="decimal" className={`${input} ${fields.has("for_minutes") ? bad : ""}`} value={draft.for_minutes} onChange={set("for_minutes")} aria-invalid={fields.has("for_minutes")} />
        </div>
        <div>
          <label htmlFor={id("cooldown")} className="text-sm font-medium">{t("playbook.cooldown")}</label>
          <input id={id("cooldown")} inputMode="decimal" className={`${input} ${fields.has("cooldown_minutes") ? bad : ""}`} value={draft.cooldown_minutes} onChange={set("cooldown_minutes")} aria-invalid={fields.has("cooldown_minutes")} />
        </div>
        <label className="flex items-center gap-2 pb-1 text-sm">
          <input type="checkbox" checked={draft.enabled} onChange={set("enabled")} />
          {t("playbook.enabledLabel")}
        </label>
      </div>
      {save.isError && (
        <div id={id("error")}>
          <ErrorNote error={save.error} />
        </div>
      )}
      <div className="flex gap-2">
        <button type="submit" className={btn.primary} disabled={save.isPending}>
          {t("playbook.save")}
        </button>
        <button type="button" className={btn.secondary} onClick={onDone}>
          {t("playbook.cancel")}
        </button>
      </div>
    </form>
  );
}

function RulesCard({ rules, canEdit }: { rules: Rule[]; canEdit: boolean }) {
  const { t } = useTranslation();
  const [editing, setEditing] = useState<string | null>(null);
  return (
    <Card title={t("playbook.rules")}>
      <p className={`mb-2 text-sm ${muted}`}>{t("playbook.rulesHint")}</p>
      {rules.length === 0 ? (
        <p>{t("playbook.noRules")}</p>
      ) : (
        <ul className="divide-y divide-slate-200 dark:divide-slate-800" data-testid="rules">
          {rules.map((rule) => (
            <li key={rule.rule_id} className="py-2" data-testid={`rule-${rule.name}`}>
              <div className="flex flex-wrap items-start justify-between gap-2">
                <div className="min-w-0 flex-1">
                  <p className="font-semibold">
                    {rule.name}{" "}
                    <span className={`ml-1 rounded px-1.5 py-0.5 text-xs ${rule.enabled ? "bg-emerald-100 text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100" : "bg-slate-200 text-slate-800 dark:bg-slate-700 dark:text-slate-100"}`}>
                      {rule.enabled ? t("playbook.on") : t("playbook.disabled")}
                    </span>
                  </p>
                  <p className="break-words font-mono text-xs">{rule.when}</p>
                  <p className={`text-xs ${muted}`}>
                    {t("playbook.lastFired")}: {rule.last_fired_at ? dateTime(rule.last_fired_at) : t("playbook.never")}
                  </p>
                </div>
                {canEdit && editing !== rule.rule_id && (
                  <button type="button" className={btn.secondary} onClick={() => setEditing(rule.rule_id)} aria-label={`${t("playbook.edit")} ${rule.name}`}>
                    {t("playbook.edit")}
                  </button>
                )}
              </div>
              {canEdit && editing === rule.rule_id && <RuleEditor rule={rule} onDone={() => setEditing(null)} />}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

function DryRunCard({ rules }: { rules: Rule[] }) {
  const { t } = useTranslation();
  const [theme] = useTheme();
  const [range] = useState<[number, number]>(() => {
    const to = Math.floor(Date.now() / 900_000) * 900_000;
    return [to - DRY_RUN_DAYS * 86_400_000, to];
  });
  const evaluation = useQuery({
    queryKey: ["playbook", "dry-run", range, rules.map((r) => r.updated_at).join()],
    queryFn: ({ signal }) => api<Evaluation>("/rules/evaluate", { method: "POST", body: { from: new Date(range[0]).toISOString(), to: new Date(range[1]).toISOString() }, signal }),
    enabled: rules.length > 0,
  });
  const rows = useMemo(() => (evaluation.data ? firingRows(evaluation.data, rules.map((r) => r.name)) : []), [evaluation.data, rules]);
  const option = useMemo(() => firingsOption(rows, palette(theme === "dark"), range, t("playbook.time")), [rows, theme, range, t]);
  return (
    <Card title={t("playbook.dryRun")}>
      {evaluation.isPending && rules.length > 0 ? (
        <Loading />
      ) : evaluation.isError ? (
        <ErrorNote error={evaluation.error} />
      ) : evaluation.data ? (
        <>
          <p className={`mb-1 text-sm ${muted}`}>{t("playbook.dryRunHint", { days: DRY_RUN_DAYS, steps: evaluation.data.steps })}</p>
          <LazyEChart option={option} label={t("playbook.dryRunChart", { days: DRY_RUN_DAYS })} testId="dry-run-chart" height={Math.max(160, 56 + rows.length * 32)} />
          <table className="mt-2 w-full text-left text-sm" data-testid="dry-run-summary">
            <thead>
              <tr className={muted}>
                <th className="py-1 font-medium">{t("playbook.name")}</th>
                <th className="py-1 text-right font-medium">{t("playbook.fired")}</th>
                <th className="py-1 text-right font-medium">{t("playbook.stepsTrue")}</th>
                <th className="py-1 pl-3 font-medium">{t("playbook.missing")}</th>
              </tr>
            </thead>
            <tbody>
              {evaluation.data.summary.map((s) => (
                <tr key={s.rule} className="border-t border-slate-200 dark:border-slate-800">
                  <td className="py-1">{s.rule}</td>
                  <td className="py-1 text-right tabular-nums">{s.fired}×</td>
                  <td className="py-1 text-right tabular-nums">{withUnit((s.steps_true * 15) / 60, "h", 2)}</td>
                  <td className={`py-1 pl-3 text-xs ${muted}`}>{Object.entries(s.missing).map(([name, count]) => `${name}: ${count}×`).join(", ") || "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </Card>
  );
}

function PlanCard({ site }: { site: string }) {
  const { t } = useTranslation();
  const [theme] = useTheme();
  const plan = useQuery({
    queryKey: ["playbook", "plan", site],
    queryFn: ({ signal }) => api<Schedule>("/optimize/schedule", { method: "POST", body: planRequest(site), signal }),
    staleTime: 5 * 60_000,
  });
  const p = palette(theme === "dark");
  const steps = plan.data?.steps;
  const flows = useMemo(() => (steps ? stackedFlows(steps) : []), [steps]);
  const nameOf = (s: StackSeries) => `${s.key === "deferrable" ? t("playbook.series.deferrable", { name: s.name }) : t(`playbook.series.${s.key}`)} (kW)`;
  const flowOpt = useMemo(() => flowsOption(flows, p, nameOf), [flows, theme]); // eslint-disable-line react-hooks/exhaustive-deps
  const socData = useMemo(() => (steps ? socAndPrice(steps) : { soc: [], price: [] }), [steps]);
  const socOpt = useMemo(() => socOption(socData.soc, socData.price, p, { soc: t("playbook.soc"), price: t("playbook.price") }), [socData, theme]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <Card title={t("playbook.plan")}>
      <p className={`mb-2 text-sm ${muted}`}>{t("playbook.planHint", { capacity: PLAN.capacityKwh, power: PLAN.powerKw, ev: PLAN.evKwh, evPower: PLAN.evPowerKw })}</p>
      {plan.isPending ? (
        <Loading />
      ) : plan.isError ? (
        <ErrorNote error={plan.error} />
      ) : (
        <>
          <dl className="mb-3 grid grid-cols-2 gap-2 md:grid-cols-5" data-testid="plan-stats">
            <Stat label={t("playbook.saving")} value={euro(plan.data.savings_eur)} testId="plan-saving" />
            <Stat label={t("playbook.planCost")} value={euro(plan.data.total_cost_eur)} />
            <Stat label={t("playbook.baselineCost")} value={euro(plan.data.baseline_cost_eur)} />
            <Stat label={t("playbook.peak")} value={withUnit(plan.data.peak_import_kw, "kW", 1)} />
            <Stat label={t("playbook.status")} value={`${plan.data.status} · ${withUnit(plan.data.solve_time_s, "s", 2)}`} />
          </dl>
          <h3 className="text-sm font-semibold">{t("playbook.flows")}</h3>
          <LazyEChart option={flowOpt} label={t("playbook.flowsChart")} testId="plan-flows-chart" height={320} />
          <LazyEChart option={socOpt} label={t("playbook.socChart")} testId="plan-soc-chart" height={240} />
          {plan.data.notes.length > 0 && <p className={`mt-1 text-xs ${muted}`}>{plan.data.notes.join(" · ")}</p>}
        </>
      )}
    </Card>
  );
}

function Slider({ label, value, unit, digits, range, onChange, disabled, note }: { label: string; value: number; unit: string; digits: number; range: { min: number; max: number; step: number }; onChange: (v: number) => void; disabled: boolean; note?: string }) {
  const id = `slider-${label.replace(/\W+/g, "-")}`;
  return (
    <div>
      <div className="flex justify-between gap-2 text-sm">
        <label htmlFor={id} className="font-medium">{label}</label>
        <output htmlFor={id} className="whitespace-nowrap tabular-nums">{withUnit(value, unit, digits)}</output>
      </div>
      <input id={id} type="range" className="w-full accent-sky-700" min={range.min} max={range.max} step={range.step} value={value} disabled={disabled} onChange={(e) => onChange(Number(e.target.value))} />
      {note && <p className={`text-xs ${muted}`}>{note}</p>}
    </div>
  );
}

function fmt(value: number | null, row: Row, sign = false): string {
  if (value === null) return "–";
  if (row.key === "cost") return (sign && value > 0 ? "+" : "") + euro(value);
  return (sign && value > 0 ? "+" : "") + withUnit(value, row.unit === "%" && sign ? "pp" : row.unit, row.digits);
}

function ScenarioResult({ scenario }: { scenario: Scenario }) {
  const { t } = useTranslation();
  const rows = comparison(scenario);
  const why = scenario.why as { findings?: string[]; notes?: string[] };
  const how = scenario.how as { variation?: string; equivalent_full_cycles?: number; battery_charged_kwh?: number; battery_discharged_kwh?: number }[];
  const variant = how.find((h) => h.variation !== "baseline");
  return (
    <div data-testid="whatif-result">
      <table className="w-full text-left text-sm">
        <thead>
          <tr className={muted}>
            <th className="py-1 font-medium"><span className="sr-only">KPI</span></th>
            <th className="py-1 text-right font-medium">{t("playbook.baseline")}</th>
            <th className="py-1 text-right font-medium">{t("playbook.variant")}</th>
            <th className="py-1 text-right font-medium">{t("playbook.delta")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const delta = row.baseline !== null && row.variant !== null ? row.variant - row.baseline : null;
            const better = delta !== null && Math.abs(delta) > 1e-9 && (delta < 0) === row.lowerBetter;
            return (
              <tr key={row.key} className="border-t border-slate-200 dark:border-slate-800">
                <th scope="row" className="py-1 font-medium">{t(`playbook.kpi.${row.key}`)}</th>
                <td className="py-1 text-right tabular-nums">{fmt(row.baseline, row)}</td>
                <td className="py-1 text-right tabular-nums">{fmt(row.variant, row)}</td>
                <td className={`py-1 text-right tabular-nums ${delta === null || Math.abs(delta) < 1e-9 ? "" : better ? "text-emerald-700 dark:text-emerald-400" : "text-red-700 dark:text-red-400"}`}>{fmt(delta, row, true)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {variant && (
        <p className={`mt-2 text-sm ${muted}`}>
          {t("playbook.how")}: {t("playbook.cycles")} {num(variant.equivalent_full_cycles ?? null, 1)} · {t("playbook.charged")} {withUnit(variant.battery_charged_kwh ?? null, "kWh", 0)} · {t("playbook.discharged")} {withUnit(variant.battery_discharged_kwh ?? null, "kWh", 0)}
        </p>
      )}
      <ul className="mt-2 list-disc pl-5 text-sm">
        {[...(why.findings ?? []), ...(why.notes ?? [])].map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
    </div>
  );
}

function WhatIfCard({ site, canRun, scenarioId, onRun }: { site: string; canRun: boolean; scenarioId: string | null; onRun: (id: string) => void }) {
  const { t } = useTranslation();
  const [sliders, setSliders] = useState<Sliders>(DEFAULT_SLIDERS);
  const run = useMutation({
    mutationFn: () => api<Scenario>("/scenarios/whatif", { method: "POST", body: whatIfBody(site, sliders, Date.now()) }),
    onSuccess: (data) => onRun(data.scenario_id),
  });
  // A linked scenario (Luna's what-if) first; unknown or gone: the latest one, without an error.
  const linked = useQuery({
    queryKey: ["playbook", "scenario", scenarioId],
    queryFn: ({ signal }) => api<Scenario>(`/scenarios/${scenarioId}`, { signal }),
    enabled: !!scenarioId && !run.data,
    retry: false,
  });
  const fromLink = !run.data ? (linked.data ?? null) : null;
  const latest = useQuery({
    queryKey: ["playbook", "scenarios"],
    queryFn: async ({ signal }) => {
      const list = await api<{ items: { scenario_id: string }[] }>("/scenarios", { query: { limit: 1 }, signal });
      const first = list.items[0];
      return first ? api<Scenario>(`/scenarios/${first.scenario_id}`, { signal }) : null;
    },
    enabled: !run.data && (!scenarioId || linked.isError),
  });
  const shown = run.data ?? fromLink ?? latest.data ?? null;
  const set = (key: keyof Sliders) => (value: number) => setSliders({ ...sliders, [key]: value });
  return (
    <Card title={t("playbook.whatIf")}>
      <p className={`mb-3 text-sm ${muted}`}>{t("playbook.whatIfHint", { days: WHATIF_DAYS })}</p>
      <div className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_minmax(0,2fr)]">
        <div className="space-y-3">
          <Slider label={t("playbook.battery")} value={sliders.batteryKwh} unit="kWh" digits={0} range={SLIDERS.batteryKwh} onChange={set("batteryKwh")} disabled={!canRun} note={t("playbook.batteryNote", { power: num(batteryPower(sliders.batteryKwh), 1) })} />
          <Slider label={t("playbook.pvScale")} value={sliders.pvScale} unit="×" digits={1} range={SLIDERS.pvScale} onChange={set("pvScale")} disabled={!canRun} />
          <Slider label={t("playbook.markup")} value={sliders.markupEurKwh} unit="EUR/kWh" digits={2} range={SLIDERS.markupEurKwh} onChange={set("markupEurKwh")} disabled={!canRun} />
          {canRun && (
            <button type="button" className={btn.primary} onClick={() => run.mutate()} disabled={run.isPending}>
              {run.isPending ? t("playbook.running") : t("playbook.run")}
            </button>
          )}
          {run.isError && <ErrorNote error={run.error} />}
        </div>
        <div>
          {shown ? (
            <>
              {!run.data && <p className={`mb-1 text-xs ${muted}`} data-testid="scenario-source">{t(fromLink ? "playbook.linkedScenario" : "playbook.lastScenario", { name: (shown.what[0] as { variation?: string } | undefined)?.variation ?? shown.name, at: dateTime(shown.created_at) })}</p>}
              {run.data && <p className={`mb-1 text-xs ${muted}`}>{(shown.what[0] as { variation?: string } | undefined)?.variation}</p>}
              <ScenarioResult scenario={shown} />
            </>
          ) : latest.isPending ? (
            <Loading />
          ) : latest.isError ? (
            <ErrorNote error={latest.error} />
          ) : (
            <p className={`text-sm ${muted}`}>{t("playbook.noScenario")}</p>
          )}
        </div>
      </div>
    </Card>
  );
}

export default function Playbook() {
  const { t } = useTranslation();
  const { caller } = useAuth();
  const canWrite = allows(caller?.role, "analyst");
  const rules = useQuery({ queryKey: ["playbook", "rules"], queryFn: ({ signal }) => api<{ items: Rule[] }>("/rules", { signal }) });
  const items = rules.data?.items ?? [];
  const site = items[0]?.site ?? "sim";
  // Luna links here with ?scenario=<uuid> (read once); a new what-if run takes its place in the URL.
  const [params, setParams] = useSearchParams();
  const [scenarioId] = useState(() => linkedScenario(params));
  const ranScenario = (id: string) => setParams((current) => withParams(current, { scenario: id }), { replace: true });
  return (
    <div className="space-y-4">
      <div>
        <h1 className="text-2xl font-semibold">{t("playbook.title")}</h1>
        <p className={`text-sm ${muted}`}>{t("playbook.intro")}</p>
        {!canWrite && <p className="mt-2 rounded border border-slate-300 px-3 py-2 text-sm dark:border-slate-700" data-testid="read-only">{t("playbook.readOnly")}</p>}
      </div>
      {rules.isPending && <Loading />}
      {rules.isError && <ErrorNote error={rules.error} />}
      {rules.isSuccess && (
        <>
          <div><Step n={1} label={t("playbook.steps.why")} /><Step n={2} label={t("playbook.steps.what")} /></div>
          <div className="grid gap-4 xl:grid-cols-2">
            <RulesCard rules={items} canEdit={canWrite} />
            <DryRunCard rules={items} />
          </div>
          <div><Step n={3} label={t("playbook.steps.how")} /></div>
          <PlanCard site={site} />
          <div><Step n={4} label={t("playbook.steps.whatIf")} /></div>
          <WhatIfCard site={site} canRun={canWrite} scenarioId={scenarioId} onRun={ranScenario} />
        </>
      )}
    </div>
  );
}
