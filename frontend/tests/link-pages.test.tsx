// The pages open on what Luna's citation links name (/smart-meters, /prices, /, /playbook with query
// parameters), fall back to their defaults on a bad link, and keep the URL in step (replace).
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { useLocation } from "react-router";
import { storeKey } from "../src/api/client";
import { addDays, dayKey, midnight } from "../src/pages/energy/time";
import { PlanCard } from "../src/pages/home/PlanCard";
import { browserTz } from "../src/links";
import Meters from "../src/pages/meters/Meters";
import Playbook from "../src/pages/playbook/Playbook";
import { MARKET_TZ } from "../src/pages/prices/priceData";
import Prices from "../src/pages/prices/Prices";
import { fakeApi, renderApp } from "./render";

vi.mock("../src/pages/energy/LazyEChart", () => ({
  LazyEChart: ({ label, testId }: { label: string; testId?: string }) => <div role="img" aria-label={label} data-testid={testId} />,
}));

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.search}</output>;
}

const me = (role: string) => ({ key_id: "k", name: `${role}-key`, role, prefix: "luna_x", created_at: "2026-01-01T00:00:00Z", roles_allowed: [role] });
const notFound = { status: 404, body: { error: { code: "not_found", message: "not found" } } };

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

const KPIS = {
  consumption_kwh: 1234.5, production_kwh: 100, import_kwh: 1200, export_kwh: 65.5, self_consumption_rate: 0.345, autarky_rate: 0.028,
  peak_load_kw: 12.5, peak_load_at: "2026-12-01T17:15:00Z", peak_import_kw: 12.5, import_cost_eur: 300, export_revenue_eur: 5, net_cost_eur: 295,
  priced_share: 1, coverage: 0.99,
};

describe("Smart meters link", () => {
  function backend(calls: URL[]) {
    return fakeApi((url) => {
      calls.push(url);
      if (url.pathname === "/auth/me") return { status: 200, body: me("viewer") };
      if (url.pathname === "/meters") return { status: 200, body: { items: [{ meter_id: "m1", site: "home", kind: "consumption" }, { meter_id: "m2", site: "plant", kind: "consumption" }], total: 2 } };
      if (url.pathname === "/timeseries/readings/latest") return { status: 200, body: { ts: "2026-12-06T10:00:00Z", consumption_kw: 1, production_kw: 0, voltage: 230 } };
      if (url.pathname === "/timeseries/readings/columns") return { status: 200, body: { meter_id: url.searchParams.get("meter_id"), timezone: "UTC", bucket: "1h", agg: "avg", truncated: false, ts: ["2026-11-30T09:00:00Z"], consumption_kw: [2], production_kw: [0], coverage: [1] } };
      if (url.pathname === "/quality") return { status: 200, body: { items: [] } };
      if (url.pathname === "/sim/status") return { status: 200, body: { running: false, interval_s: 5, rows_written: 0, ticks: 0 } };
      if (url.pathname === "/kpis") return { status: 200, body: KPIS };
      return notFound;
    });
  }
  const columns = (calls: URL[]) => calls.filter((url) => url.pathname === "/timeseries/readings/columns");

  it("opens on the linked site and period; a preset range then drops the period from the URL", async () => {
    const calls: URL[] = [];
    vi.stubGlobal("fetch", backend(calls));
    storeKey("luna_test");
    renderApp(<><Meters /><Where /></>, { path: "/smart-meters?site=plant&from=2026-11-30&to=2026-12-07" });
    await screen.findByTestId("trend-chart");
    expect(screen.getByTestId("scope")).toHaveValue("site:plant");
    expect(screen.getByLabelText("Range")).toHaveDisplayValue("2026-11-30 to 2026-12-06 (linked)");
    const tz = browserTz();
    const asked = columns(calls).find((url) => url.searchParams.get("meter_id") === "m2");
    expect(asked?.searchParams.get("from")).toBe(new Date(midnight("2026-11-30", tz)).toISOString());
    expect(asked?.searchParams.get("to")).toBe(new Date(midnight("2026-12-07", tz)).toISOString());
    expect(columns(calls).some((url) => url.searchParams.get("meter_id") === "m1")).toBe(false);
    // The totals under the chart are GET /kpis for the same site and window (what Luna's KPI answer cites).
    const totals = await screen.findByTestId("period-kpis");
    expect(totals).toHaveTextContent("1,234.5 kWh");
    const kpis = calls.find((url) => url.pathname === "/kpis");
    expect(kpis?.searchParams.get("site")).toBe("plant");
    expect(kpis?.searchParams.get("from")).toBe(asked?.searchParams.get("from"));
    expect(kpis?.searchParams.get("to")).toBe(asked?.searchParams.get("to"));

    await userEvent.selectOptions(screen.getByLabelText("Range"), "24h");
    await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent(/^\?site=plant$/));
    expect(within(screen.getByLabelText("Range")).queryByText(/linked/)).toBeNull();
    await userEvent.selectOptions(screen.getByTestId("scope"), "site:home");
    await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent(/^\?site=home$/));
  });

  it("opens on the defaults for an unknown site and an impossible date, without an error", async () => {
    const calls: URL[] = [];
    vi.stubGlobal("fetch", backend(calls));
    storeKey("luna_test");
    renderApp(<Meters />, { path: "/smart-meters?site=nowhere&from=2026-02-30&to=2026-03-02" });
    await screen.findByTestId("trend-chart");
    expect(screen.getByTestId("scope")).toHaveValue("site:home");
    expect(screen.getByLabelText("Range")).toHaveDisplayValue("7 days");
    expect(screen.queryByRole("alert")).toBeNull();
  });
});

describe("Prices link", () => {
  const Q = 15 * 60_000;
  function backend() {
    const today = dayKey(Date.now(), MARKET_TZ);
    const points: { ts: string; price_eur_mwh: number }[] = [];
    for (let n = -20; n <= 1; n++) {
      const d = addDays(today, n);
      for (let i = 0; i < 96; i++) points.push({ ts: new Date(midnight(d, MARKET_TZ) + i * Q).toISOString(), price_eur_mwh: 50 + i });
    }
    return fakeApi((url) => {
      if (url.pathname === "/auth/me") return { status: 200, body: me("viewer") };
      if (url.pathname === "/timeseries/prices") {
        const from = Date.parse(url.searchParams.get("from") ?? "");
        const to = Date.parse(url.searchParams.get("to") ?? "");
        return { status: 200, body: { market: "DE-LU", product: "day_ahead", bucket: null, agg: "avg", timezone: MARKET_TZ, points: points.filter((p) => Date.parse(p.ts) >= from && Date.parse(p.ts) < to) } };
      }
      return notFound;
    });
  }

  it("shows the linked period's first day and lays its days over each other; a new day goes into the URL", async () => {
    vi.stubGlobal("fetch", backend());
    storeKey("luna_test");
    const first = addDays(dayKey(Date.now(), MARKET_TZ), -10);
    const end = addDays(first, 3);
    renderApp(<><Prices /><Where /></>, { path: `/prices?from=${first}&to=${end}` });
    const dayInput = await screen.findByLabelText("Day");
    expect(dayInput).toHaveValue(first);
    const choices = await screen.findByTestId("compare-choices");
    const checked = within(choices).getAllByRole("checkbox").filter((box) => (box as HTMLInputElement).checked);
    expect(checked).toHaveLength(3);
    expect(screen.getByRole("radio", { name: "Days" })).toHaveAttribute("aria-checked", "true");

    await userEvent.click(screen.getByRole("button", { name: "Today" }));
    const today = dayKey(Date.now(), MARKET_TZ);
    await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent(`?from=${today}&to=${addDays(today, 1)}`));
  });

  it("ignores a malformed link", async () => {
    vi.stubGlobal("fetch", backend());
    storeKey("luna_test");
    renderApp(<Prices />, { path: "/prices?from=yesterday&to=2026-99-99" });
    await screen.findByTestId("day-stats");
    // the default: tomorrow's prices are stored, so tomorrow is shown
    expect(screen.getByLabelText("Day")).toHaveValue(addDays(dayKey(Date.now(), MARKET_TZ), 1));
    expect(screen.queryByRole("alert")).toBeNull();
  });
});

describe("Home plan card for a linked day", () => {
  it("plans the linked day from its local midnight, under a title naming it", async () => {
    const bodies: Record<string, unknown>[] = [];
    const plan = { status: "optimal", savings_eur: 2, total_cost_eur: 10, baseline_cost_eur: 12, peak_import_kw: 4, solve_time_s: 0.01, notes: [], steps: [] };
    vi.stubGlobal(
      "fetch",
      fakeApi((url, init) => {
        if (url.pathname === "/optimize/schedule") {
          bodies.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
          return { status: 200, body: plan };
        }
        return notFound;
      }),
    );
    renderApp(<PlanCard site="plant" day="2026-12-07" />);
    expect(await screen.findByTestId("home-plan-saving")).toHaveTextContent("€2.00");
    expect(screen.getByRole("heading", { name: /Plan for Mon,? 7 Dec 2026/ })).toBeInTheDocument();
    expect(bodies[0]).toMatchObject({ start: new Date(midnight("2026-12-07", browserTz())).toISOString(), horizon_h: 24, stored: { site: "plant" } });
  });
});

describe("Playbook link", () => {
  const id = "0b5d2c1e-8f3a-4c2b-9d1e-7a6b5c4d3e2f";
  const scenario = (scenario_id: string, variation: string) => ({
    scenario_id, name: "x", created_at: "2026-12-06T10:00:00Z", why: { baseline: { cost_eur: 100 } }, what: [{ variation, kpis: { cost_eur: 90 } }], how: [], what_if: [],
  });
  function stub(paths: string[]) {
    storeKey("k");
    vi.stubGlobal(
      "fetch",
      fakeApi((url) => {
        paths.push(url.pathname);
        if (url.pathname === "/auth/me") return { status: 200, body: me("viewer") };
        if (url.pathname === "/rules") return { status: 200, body: { items: [], total: 0 } };
        if (url.pathname === "/rules/evaluate") return { status: 200, body: { ts_from: "", ts_to: "", steps: 0, summary: [], firings: [] } };
        if (url.pathname === "/optimize/schedule") return { status: 200, body: { status: "optimal", savings_eur: 1, total_cost_eur: 1, baseline_cost_eur: 2, peak_import_kw: 1, solve_time_s: 0.01, notes: [], steps: [] } };
        if (url.pathname === "/scenarios") return { status: 200, body: { items: [{ scenario_id: "latest-1" }], total: 1 } };
        if (url.pathname === "/scenarios/latest-1") return { status: 200, body: scenario("latest-1", "latest variation") };
        if (url.pathname === `/scenarios/${id}`) return { status: 200, body: scenario(id, "Luna's variation") };
        return notFound;
      }),
    );
  }

  it("shows the linked scenario instead of the latest", async () => {
    const paths: string[] = [];
    stub(paths);
    renderApp(<Playbook />, { path: `/playbook?scenario=${id}` });
    expect(await screen.findByTestId("scenario-source")).toHaveTextContent("Linked scenario “Luna's variation”");
    expect(paths).not.toContain("/scenarios");
  });

  it("shows the latest scenario, without an error, when the linked one is unknown or not a UUID", async () => {
    stub([]);
    const { unmount } = renderApp(<Playbook />, { path: "/playbook?scenario=1a2b3c4d-0000-4000-8000-000000000000" });
    expect(await screen.findByTestId("scenario-source")).toHaveTextContent("Latest stored scenario “latest variation”");
    expect(screen.queryByRole("alert")).toBeNull();
    unmount();
    stub([]);
    renderApp(<Playbook />, { path: "/playbook?scenario=latest" });
    expect(await screen.findByTestId("scenario-source")).toHaveTextContent("Latest stored scenario");
  });
});
