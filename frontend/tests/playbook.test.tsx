import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { storeKey } from "../src/api/client";
import { batteryPower, comparison, draftOf, firingRows, ruleUpdate, socAndPrice, stackedFlows, whatIfBody, type Evaluation, type Rule, type Scenario, type Schedule } from "../src/pages/playbook/data";
import Playbook from "../src/pages/playbook/Playbook";
import { fakeApi, renderApp, seriousViolations } from "./render";

vi.mock("../src/pages/energy/LazyEChart", () => ({
  LazyEChart: ({ label, testId }: { label: string; testId?: string }) => <div role="img" aria-label={label} data-testid={testId} />,
}));

const step = (ts: string, grid: number, pv: number, load: number, battery: number, ev = 0) => ({
  ts, load_kw: load, pv_kw: pv, grid_kw: grid, curtailment_kw: 0, import_price_eur_kwh: 0.25, export_price_eur_kwh: 0.08,
  batteries: { battery: { power_kw: battery, soc_pct: 50 } }, deferrable_kw: ev ? { ev } : {},
});

describe("plan shaping", () => {
  const steps = [step("2026-12-06T10:00:00Z", 8, 2, 5, -1, 4), step("2026-12-06T10:15:00Z", -3, 6, 5, 2)] as Schedule["steps"];
  it("stacks sources above zero and uses below, balanced per step", () => {
    const flows = stackedFlows(steps);
    expect(flows.map((s) => `${s.key}:${s.stack}`)).toEqual(["import:sources", "pv:sources", "discharge:sources", "load:uses", "deferrable:uses", "charge:uses", "export:uses"]);
    for (const i of [0, 1]) {
      const up = flows.filter((s) => s.stack === "sources").reduce((sum, s) => sum + (s.points[i]?.[1] ?? 0), 0);
      const down = flows.filter((s) => s.stack === "uses").reduce((sum, s) => sum + (s.points[i]?.[1] ?? 0), 0);
      expect(up + down).toBeCloseTo(0, 6);
    }
    expect(flows.find((s) => s.key === "deferrable")?.name).toBe("ev");
    expect(flows.find((s) => s.key === "export")?.points[1]).toEqual([Date.parse("2026-12-06T10:15:00Z"), -3]);
  });
  it("gives SOC in % and prices in ct/kWh", () => {
    const { soc, price } = socAndPrice(steps);
    expect(soc[0]?.name).toBe("battery");
    expect(price[0]?.[1]).toBe(25);
  });
});

describe("rules", () => {
  const rule = { rule_id: "r1", name: "soc-reserve", description: "d", when: "soc_pct < 20", then: { action: "hold_battery", severity: "warning", message: "low" }, for_minutes: 0, cooldown_minutes: 60, enabled: true, site: "sim", channels: [], created_at: "", updated_at: "", last_fired_at: null, last_evaluated_at: null } as Rule;
  it("sends only what changed, numbers as numbers", () => {
    expect(ruleUpdate(rule, draftOf(rule))).toEqual({});
    expect(ruleUpdate(rule, { ...draftOf(rule), when: "soc_pct < 25", cooldown_minutes: "30", message: "x" })).toEqual({ when: "soc_pct < 25", cooldown_minutes: 30, then: { action: "hold_battery", severity: "warning", message: "x" } });
  });
  it("puts each firing on its rule's row", () => {
    const evaluation = { ts_from: "", ts_to: "", steps: 4, summary: [{ rule: "b", fired: 1, steps_true: 1, missing: {} }], firings: [{ rule: "b", ts: "2026-12-01T00:00:00Z", action: "notify", severity: "info", message: null, values: {} }] } as Evaluation;
    expect(firingRows(evaluation, ["a", "b"])).toEqual([{ rule: "a", row: 0, points: [] }, { rule: "b", row: 1, points: [[Date.parse("2026-12-01T00:00:00Z"), 1]] }]);
  });
});

describe("what-if", () => {
  it("turns the sliders into the request body", () => {
    const body = whatIfBody("sim", { batteryKwh: 40, pvScale: 1.2000001, markupEurKwh: 0.1 }, Date.parse("2026-12-06T10:42:00Z"), 7);
    expect(body.from).toBe("2026-11-29T10:00:00.000Z");
    expect(body.to).toBe("2026-12-06T10:00:00.000Z");
    expect(body.variations[0]).toMatchObject({ battery_capacity_kwh: 40, battery_power_kw: 20, pv_scale: 1.2, tariff: { import_markup_eur_kwh: 0.1 } });
    expect(whatIfBody("sim", { batteryKwh: 0, pvScale: 1, markupEurKwh: 0.15 }, 0).variations[0]).not.toHaveProperty("battery_power_kw");
    expect(batteryPower(15)).toBe(7.5);
  });
  it("lays baseline and variation side by side, rates in %", () => {
    const scenario = { why: { baseline: { cost_eur: 100, autarky_rate: 0.1 } }, what: [{ kpis: { cost_eur: 90, autarky_rate: 0.25 } }], how: [], what_if: [] } as unknown as Scenario;
    const rows = comparison(scenario);
    expect(rows.find((r) => r.key === "cost")).toMatchObject({ baseline: 100, variant: 90, unit: "EUR" });
    expect(rows.find((r) => r.key === "autarky")).toMatchObject({ baseline: 10, variant: 25, unit: "%" });
  });
});

describe("Playbook page", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    sessionStorage.clear();
  });
  const rule = { rule_id: "r1", name: "soc-reserve", description: "", when: "soc_pct < 20", then: { action: "hold_battery" }, for_minutes: 0, cooldown_minutes: 60, enabled: true, site: "sim", created_at: "", updated_at: "", last_fired_at: null, last_evaluated_at: null };
  function stub(role: string) {
    storeKey("k");
    vi.stubGlobal(
      "fetch",
      vi.fn(
        fakeApi((url, init) => {
          if (url.pathname === "/auth/me") return { status: 200, body: { name: "k", role, key_id: "1" } };
          if (url.pathname === "/rules") return { status: 200, body: { items: [rule], total: 1 } };
          if (url.pathname === "/rules/r1" && init?.method === "PATCH")
            return { status: 422, body: { error: { code: "invalid_input", message: "rule soc-reserve: when: unknown variable 'sco_pct'", details: { field: "when" } } } };
          if (url.pathname === "/rules/evaluate") return { status: 200, body: { ts_from: "", ts_to: "", steps: 672, summary: [], firings: [] } };
          if (url.pathname === "/optimize/schedule") return { status: 200, body: { status: "optimal", savings_eur: 1.5, total_cost_eur: 10, baseline_cost_eur: 11.5, peak_import_kw: 4, solve_time_s: 0.01, notes: [], steps: [] } };
          if (url.pathname === "/scenarios") return { status: 200, body: { items: [], total: 0 } };
          return { status: 404, body: { error: { code: "not_found", message: "no" } } };
        }),
      ),
    );
  }
  it("keeps the typed condition and shows the API's error inline", async () => {
    stub("analyst");
    const { container } = renderApp(<Playbook />, { path: "/playbook" });
    await userEvent.click(await screen.findByRole("button", { name: "Edit soc-reserve" }));
    const when = screen.getByLabelText("Condition (when)");
    await userEvent.clear(when);
    await userEvent.type(when, "sco_pct < 20");
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText(/unknown variable 'sco_pct'/)).toBeInTheDocument();
    expect(when).toHaveValue("sco_pct < 20");
    expect(when).toHaveAttribute("aria-invalid", "true");
    expect(await screen.findByTestId("plan-saving")).toHaveTextContent("€");
    expect(await seriousViolations(container)).toEqual([]);
  });
  it("shows a viewer no write or run buttons", async () => {
    stub("viewer");
    renderApp(<Playbook />, { path: "/playbook" });
    expect(await screen.findByTestId("read-only")).toBeInTheDocument();
    expect(await screen.findByTestId("rule-soc-reserve")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /Edit|Run what-if/ })).toBeNull();
  });
});
