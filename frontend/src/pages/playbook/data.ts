// The Playbook's data shaping: pure functions, tested in tests/playbook.test.tsx.
import type { components } from "../../api/schema";

export type Schedule = components["schemas"]["ScheduleRead"];
export type Rule = components["schemas"]["RuleRead"];
export type Evaluation = components["schemas"]["RuleEvaluateRead"];
export type Scenario = components["schemas"]["ScenarioRead"];

export const DRY_RUN_DAYS = 7;
export const WHATIF_DAYS = 7;
/** What the plan assumes (the API has no stored battery specs): stated on the page. */
export const PLAN = { capacityKwh: 10, powerKw: 5, evKwh: 22, evPowerKw: 11 };

/** The plan of the next 24 h, or of the 24 h from `start` (ISO 8601: a linked day's local midnight). */
export function planRequest(site: string, start?: string) {
  return {
    ...(start ? { start } : {}),
    horizon_h: 24,
    step_minutes: 15,
    objective: "cost" as const,
    stored: { site },
    batteries: [{ name: "battery", capacity_kwh: PLAN.capacityKwh, charge_max_kw: PLAN.powerKw, discharge_max_kw: PLAN.powerKw, soc_initial_pct: 50, soc_min_pct: 10 }],
    deferrable_loads: [{ name: "ev", power_kw: PLAN.evPowerKw, energy_kwh: PLAN.evKwh, min_run_minutes: 60 }],
  };
}

export type Pair = [number, number];
export interface StackSeries {
  key: "import" | "pv" | "discharge" | "load" | "deferrable" | "charge" | "export" | "curtailment";
  /** the deferrable load's name */
  name?: string;
  /** "sources" above zero, "uses" below */
  stack: "sources" | "uses";
  points: Pair[];
}

const r3 = (value: number) => Math.round(value * 1000) / 1000;

/** The plan's energy balance per step as two stacks: sources (import, PV, discharge) positive, uses
 * (load, deferrable loads, charge, export, curtailment) negative; both stacks have the same height. */
export function stackedFlows(steps: Schedule["steps"]): StackSeries[] {
  const loads = [...new Set(steps.flatMap((step) => Object.keys(step.deferrable_kw ?? {})))].sort();
  const at = (step: Schedule["steps"][number]) => Date.parse(step.ts);
  const battery = (step: Schedule["steps"][number]) => Object.values(step.batteries ?? {}).reduce((sum, b) => sum + b.power_kw, 0);
  const series = (key: StackSeries["key"], stack: StackSeries["stack"], value: (step: Schedule["steps"][number]) => number, name?: string): StackSeries => ({
    key,
    stack,
    name,
    points: steps.map((step) => [at(step), r3(value(step))]),
  });
  const out: StackSeries[] = [
    series("import", "sources", (s) => Math.max(0, s.grid_kw)),
    series("pv", "sources", (s) => s.pv_kw),
    series("discharge", "sources", (s) => Math.max(0, battery(s))),
    series("load", "uses", (s) => -s.load_kw),
    ...loads.map((name) => series("deferrable", "uses", (s) => -(s.deferrable_kw?.[name] ?? 0), name)),
    series("charge", "uses", (s) => Math.min(0, battery(s))),
    series("export", "uses", (s) => Math.min(0, s.grid_kw)),
    series("curtailment", "uses", (s) => -s.curtailment_kw),
  ];
  // Leave out what is zero all along (no PV at night, no curtailment): fewer legend entries.
  return out.filter((s) => s.key === "load" || s.key === "import" || s.points.some(([, v]) => v !== 0));
}

/** SOC in % per battery, and the import price in ct/kWh. */
export function socAndPrice(steps: Schedule["steps"]): { soc: { name: string; points: Pair[] }[]; price: Pair[] } {
  const names = [...new Set(steps.flatMap((step) => Object.keys(step.batteries ?? {})))];
  return {
    soc: names.map((name) => ({ name, points: steps.filter((s) => s.batteries?.[name]).map((s) => [Date.parse(s.ts), s.batteries[name]?.soc_pct ?? 0] as Pair) })),
    price: steps.map((s) => [Date.parse(s.ts), r3(s.import_price_eur_kwh * 100)]),
  };
}

/** Firings per rule as marks on a time axis (one row per rule, rules without firings kept). */
export function firingRows(evaluation: Evaluation, rules: string[]): { rule: string; row: number; points: Pair[] }[] {
  const names = [...new Set([...rules, ...evaluation.summary.map((s) => s.rule)])];
  return names.map((rule, row) => ({ rule, row, points: evaluation.firings.filter((f) => f.rule === rule).map((f) => [Date.parse(f.ts), row] as Pair) }));
}

export interface RuleDraft {
  when: string;
  description: string;
  for_minutes: string;
  cooldown_minutes: string;
  enabled: boolean;
  message: string;
}

export function draftOf(rule: Rule): RuleDraft {
  return {
    when: rule.when,
    description: rule.description,
    for_minutes: String(rule.for_minutes),
    cooldown_minutes: String(rule.cooldown_minutes),
    enabled: rule.enabled,
    message: typeof rule.then.message === "string" ? rule.then.message : "",
  };
}

/** The PATCH body: only what changed; numbers as typed (the API judges them and says what is wrong). */
export function ruleUpdate(rule: Rule, draft: RuleDraft): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const before = draftOf(rule);
  if (draft.when !== before.when) body.when = draft.when;
  if (draft.description !== before.description) body.description = draft.description;
  for (const key of ["for_minutes", "cooldown_minutes"] as const) {
    if (draft[key] !== before[key]) body[key] = draft[key].trim() === "" ? null : Number(draft[key].replace(",", "."));
  }
  if (draft.enabled !== before.enabled) body.enabled = draft.enabled;
  if (draft.message !== before.message) body.then = { ...rule.then, message: draft.message || null };
  return body;
}

export interface Sliders {
  batteryKwh: number;
  pvScale: number;
  markupEurKwh: number;
}

export const SLIDERS = {
  batteryKwh: { min: 0, max: 200, step: 5 },
  pvScale: { min: 0, max: 3, step: 0.1 },
  markupEurKwh: { min: 0, max: 0.4, step: 0.01 },
} as const;

export const DEFAULT_SLIDERS: Sliders = { batteryKwh: 50, pvScale: 1.5, markupEurKwh: 0.15 };

/** Battery power: half the capacity per hour (a common 0.5 C home or commercial battery). */
export const batteryPower = (kwh: number) => Math.round(kwh * 50) / 100;

export function variationName(s: Sliders): string {
  return `${s.batteryKwh} kWh, PV ×${s.pvScale.toFixed(1)}, +${s.markupEurKwh.toFixed(2)} EUR/kWh`;
}

/** The POST /scenarios/whatif body for the sliders over the last `days` days up to `now` (whole hours). */
export function whatIfBody(site: string, s: Sliders, now: number, days = WHATIF_DAYS) {
  const to = Math.floor(now / 3_600_000) * 3_600_000;
  const variation: Record<string, unknown> = {
    name: variationName(s),
    battery_capacity_kwh: s.batteryKwh,
    pv_scale: Math.round(s.pvScale * 100) / 100,
    tariff: { import_markup_eur_kwh: Math.round(s.markupEurKwh * 1000) / 1000 },
  };
  if (s.batteryKwh > 0) variation.battery_power_kw = batteryPower(s.batteryKwh);
  return { name: "playbook", site, from: new Date(to - days * 86_400_000).toISOString(), to: new Date(to).toISOString(), variations: [variation] };
}

export interface Row {
  key: "cost" | "import" | "export" | "autarky" | "selfConsumption" | "peak" | "co2";
  unit: string;
  baseline: number | null;
  variant: number | null;
  /** lower is better (cost, import, peak, CO2) */
  lowerBetter: boolean;
  digits: number;
}

type Kpis = Record<string, unknown>;
const n = (value: unknown) => (typeof value === "number" ? value : null);

/** Baseline and variation side by side (rates in %), with their units. */
export function comparison(scenario: Scenario): Row[] {
  const base = ((scenario.why as { baseline?: Kpis }).baseline ?? {}) as Kpis;
  const variant = ((scenario.what[0] as { kpis?: Kpis } | undefined)?.kpis ?? {}) as Kpis;
  const pct = (value: unknown) => (typeof value === "number" ? value * 100 : null);
  const row = (key: Row["key"], unit: string, field: string, lowerBetter: boolean, digits: number, map = n): Row => ({ key, unit, baseline: map(base[field]), variant: map(variant[field]), lowerBetter, digits });
  return [
    row("cost", "EUR", "cost_eur", true, 2),
    row("import", "kWh", "import_kwh", true, 0),
    row("export", "kWh", "export_kwh", false, 0),
    row("autarky", "%", "autarky_rate", false, 1, pct),
    row("selfConsumption", "%", "self_consumption_rate", false, 1, pct),
    row("peak", "kW", "peak_import_kw", true, 1),
    row("co2", "kg", "co2_kg", true, 0),
  ];
}
