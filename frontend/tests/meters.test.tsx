import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { storeKey } from "../src/api/client";
import { aggsFor, bucketsFor, fitBucket, gapBuckets, latestQuality, newest, qualityFlags, seriesOf, unitFor } from "../src/pages/meters/meterData";
import Meters, { LIVE_MS } from "../src/pages/meters/Meters";
import { trendOption } from "../src/pages/meters/options";
import { palette } from "../src/pages/energy/palette";
import { fakeApi, renderApp, seriousViolations } from "./render";

vi.mock("../src/pages/energy/LazyEChart", () => ({
  LazyEChart: ({ label, testId }: { label: string; testId?: string }) => <div role="img" aria-label={label} data-testid={testId} />,
}));

// The columnar answer (/timeseries/readings/columns) of the given points.
const series = (meter_id: string, points: Record<string, unknown>[]) => {
  const column = (name: string) => points.map((point) => point[name] ?? null);
  const names = new Set(points.flatMap((point) => Object.keys(point)).filter((name) => name !== "ts"));
  return { meter_id, timezone: "Europe/Berlin", bucket: "1h", agg: "avg", truncated: false, ts: column("ts"), ...Object.fromEntries([...names].map((name) => [name, column(name)])) } as never;
};
const quality = (series: string, extra: object = {}) => ({ series, rows: 96, expected_rows: 96, missing_rate: 0, outliers: 0, max_robust_z: 1.2, duplicates: 0, out_of_order: 0, step_s: 900, batch_id: "b", created_at: "2026-12-06T01:00:00Z", ...extra });

describe("buckets and aggregates", () => {
  it("offers the buckets that fit a range, up to a year of quarter-hours", () => {
    expect(bucketsFor("24h")).toEqual(["15m", "1h"]);
    expect(bucketsFor("7d")).toEqual(["15m", "1h", "1d"]);
    expect(bucketsFor("28d")).toEqual(["15m", "1h", "1d", "1w"]);
    expect(bucketsFor("1y")).toEqual(["15m", "1h", "1d", "1w", "1mo"]);
  });
  it("keeps a chosen bucket when it fits, else takes the range's default", () => {
    expect(fitBucket("1y", "15m")).toBe("15m");
    expect(fitBucket("24h", "1mo")).toBe("15m");
    expect(fitBucket("7d", "1w")).toBe("1h");
  });
  it("sum is energy in kWh, the rest power in kW; a site only adds means and energies", () => {
    expect(unitFor("sum")).toBe("kWh");
    expect(unitFor("max")).toBe("kW");
    expect(aggsFor("site")).toEqual(["avg", "sum"]);
    expect(aggsFor("meter")).toContain("max");
  });
});

describe("shaping", () => {
  it("sums the meters of a site per timestamp, in kW or kWh", () => {
    const a = series("a", [{ ts: "2026-01-01T00:00:00Z", consumption_kw: 1, production_kw: 0, consumption_kwh: 0.25 }, { ts: "2026-01-01T00:15:00Z", consumption_kw: 2, consumption_kwh: 0.5 }]);
    const b = series("b", [{ ts: "2026-01-01T00:00:00Z", consumption_kw: 3, production_kw: 4, consumption_kwh: 0.75 }]);
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    expect(seriesOf([a, b], "avg")).toEqual({ consumption: [[t0, 4], [t0 + 900_000, 2]], production: [[t0, 4]] });
    expect(seriesOf([a, b], "sum").consumption).toEqual([[t0, 1], [t0 + 900_000, 0.5]]);
    expect(seriesOf([a], "avg").consumption).toHaveLength(2);
  });
  it("counts buckets with gaps and finds the newest reading", () => {
    expect(gapBuckets([series("a", [{ ts: "2026-01-01T00:00:00Z", coverage: 1 }, { ts: "2026-01-01T01:00:00Z", coverage: 0.5 }, { ts: "2026-01-01T02:00:00Z" }])])).toBe(1);
    expect(newest([{ ts: "2026-01-01T00:00:00Z" }, undefined, { ts: "2026-01-02T00:00:00Z" }])).toBe(Date.parse("2026-01-02T00:00:00Z"));
    expect(newest([undefined])).toBeNull();
  });
  it("keeps the newest quality report per meter and flags what is wrong", () => {
    const items = [quality("a", { outliers: 2 }), quality("b", { missing_rate: 0.05, duplicates: 1 }), quality("a"), quality("DE-LU/day_ahead")];
    const latest = latestQuality(items as never, ["a", "b", "c"]);
    expect(latest.map((r) => r.series)).toEqual(["a", "b"]);
    expect(qualityFlags(latest[0] as never)).toEqual(["outliers"]);
    expect(qualityFlags(latest[1] as never)).toEqual(["gaps", "duplicates"]);
    expect(qualityFlags(quality("c") as never)).toEqual([]);
  });
  it("draws large series with LTTB sampling, progressively, with a zoom", () => {
    const data = Array.from({ length: 35_040 }, (_, i) => [i * 900_000, i % 96] as [number, number]);
    const option = trendOption([{ name: "Consumption (kW)", data }], "kW", palette(true));
    expect(option.series[0]).toMatchObject({ sampling: "lttb", large: true, progressive: 5000, showSymbol: false });
    expect(option.yAxis.name).toBe("kW");
    expect(option.dataZoom.map((z) => z.type)).toEqual(["inside", "slider"]);
  });
});

function backend(role: string, calls: string[]) {
  let running = false;
  return fakeApi((url, init) => {
    calls.push(`${init?.method ?? "GET"} ${url.pathname}`);
    const me = { key_id: "k", name: `${role}-key`, role, prefix: "luna_x", created_at: "2026-01-01T00:00:00Z", roles_allowed: [role] };
    if (url.pathname === "/auth/me") return { status: 200, body: me };
    if (url.pathname === "/meters") return { status: 200, body: { items: [{ meter_id: "m1", site: "plant", kind: "consumption" }, { meter_id: "m2", site: "plant", kind: "production" }], total: 2 } };
    if (url.pathname === "/timeseries/readings/latest") return { status: 200, body: { ts: "2026-12-06T10:00:00Z", consumption_kw: url.searchParams.get("meter_id") === "m1" ? 3.5 : 0, production_kw: url.searchParams.get("meter_id") === "m2" ? 1.25 : 0, voltage: 230 } };
    if (url.pathname === "/timeseries/readings/columns") return { status: 200, body: series(url.searchParams.get("meter_id") ?? "", [{ ts: "2026-12-06T09:00:00Z", consumption_kw: 2, production_kw: 1, coverage: 1 }]) };
    if (url.pathname === "/quality") return { status: 200, body: { items: [quality("m1", { outliers: 3 }), quality("m2")] } };
    if (url.pathname === "/sim/status") return { status: 200, body: { running, interval_s: 5, rows_written: 0, ticks: 0 } };
    if (url.pathname === "/sim/start") {
      running = true;
      return { status: 200, body: { running, interval_s: 5, rows_written: 0, ticks: 0, started_at: "2026-12-06T10:00:00Z" } };
    }
    return { status: 404, body: { error: { code: "not_found", message: `no route ${url.pathname}` } } };
  });
}

describe("Smart meters page", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("polls live values at most every 5 s", () => {
    expect(LIVE_MS).toBeLessThanOrEqual(5_000);
  });

  it("a viewer sees live values, trend, quality, and no simulation buttons", async () => {
    const calls: string[] = [];
    vi.stubGlobal("fetch", backend("viewer", calls));
    storeKey("luna_test");
    const { container } = renderApp(<Meters />, { path: "/smart-meters" });
    const live = await screen.findByTestId("live");
    await waitFor(() => expect(live).toHaveTextContent("3.50 kW"));
    expect(live).toHaveTextContent("Site total");
    expect(screen.getByTestId("newest-reading")).toHaveTextContent(/Newest reading: 6 Dec 2026/);
    expect(await screen.findByTestId("trend-chart")).toHaveAccessibleName(/mean power \(kW\)/);
    const table = await screen.findByTestId("quality");
    expect(within(table).getByText("outliers")).toBeInTheDocument();
    await screen.findByTestId("sim-status");
    expect(screen.queryByRole("button", { name: /simulation/i })).toBeNull();
    expect(screen.getByText(/needs the role analyst/)).toBeInTheDocument();
    expect(await seriousViolations(container)).toEqual([]);
  });

  it("an analyst starts the simulation; energy per bucket is in kWh", async () => {
    const calls: string[] = [];
    vi.stubGlobal("fetch", backend("analyst", calls));
    storeKey("luna_test");
    renderApp(<Meters />, { path: "/smart-meters" });
    await userEvent.click(await screen.findByRole("button", { name: "Start simulation" }));
    expect(await screen.findByRole("button", { name: "Stop simulation" })).toBeInTheDocument();
    expect(calls).toContain("POST /sim/start");
    await userEvent.selectOptions(screen.getByLabelText("Aggregate"), "sum");
    expect(await screen.findByTestId("trend-chart")).toHaveAccessibleName(/energy \(kWh\)/);
    await userEvent.selectOptions(screen.getByTestId("scope"), "meter:m1");
    await userEvent.selectOptions(screen.getByLabelText("Range"), "1y");
    await userEvent.selectOptions(screen.getByLabelText("Bucket"), "15m");
    await waitFor(() => expect(calls.some((c) => c === "GET /timeseries/readings/columns")).toBe(true));
    expect(screen.getByLabelText("Aggregate")).toHaveDisplayValue("energy (kWh)");
    expect(screen.queryByText("Site total")).toBeNull();
  });
});
