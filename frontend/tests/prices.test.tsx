import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { storeKey } from "../src/api/client";
import { addDays, dayKey, isoWeek, midnight, mondayOf } from "../src/pages/energy/time";
import { palette } from "../src/pages/energy/palette";
import { compareOption, niceStep, priceAxes, priceText } from "../src/pages/prices/options";
import { compareDefaults, ctPerKwh, defaultDay, MARKET_TZ, negativePeriods, overlay, stats, stepOf, storedDays, type PricePair } from "../src/pages/prices/priceData";
import Prices from "../src/pages/prices/Prices";
import { fakeApi, renderApp, seriousViolations } from "./render";

vi.mock("../src/pages/energy/LazyEChart", () => ({
  LazyEChart: ({ label, testId }: { label: string; testId?: string }) => <div role="img" aria-label={label} data-testid={testId} />,
}));

const Q = 15 * 60_000;
function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("missing");
  return value;
}
const at = (iso: string) => Date.parse(iso);

describe("time zones", () => {
  it("finds local midnight across clock changes", () => {
    expect(new Date(midnight("2026-01-15", MARKET_TZ)).toISOString()).toBe("2026-01-14T23:00:00.000Z");
    expect(new Date(midnight("2026-07-15", MARKET_TZ)).toISOString()).toBe("2026-07-14T22:00:00.000Z");
    // 29 March 2026: clocks go forward, the day has 23 hours
    expect(midnight("2026-03-30", MARKET_TZ) - midnight("2026-03-29", MARKET_TZ)).toBe(23 * 3_600_000);
    expect(midnight("2026-10-26", MARKET_TZ) - midnight("2026-10-25", MARKET_TZ)).toBe(25 * 3_600_000);
    expect(dayKey(at("2026-07-14T22:30:00Z"), MARKET_TZ)).toBe("2026-07-15");
  });
  it("knows weeks", () => {
    expect(mondayOf("2026-12-06")).toBe("2026-11-30");
    expect(mondayOf("2026-11-30")).toBe("2026-11-30");
    expect(isoWeek("2026-12-07")).toBe(50);
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
  });
});

describe("negative prices", () => {
  const pairs: PricePair[] = [10, 5, -1, -3, -0.5, 2, -4, null, -2].map((price, i) => [at("2026-06-01T10:00:00Z") + i * Q, price]);

  it("joins consecutive negative quarter-hours into periods ending after the last one", () => {
    const periods = negativePeriods(pairs);
    expect(periods).toEqual([
      { start: at("2026-06-01T10:30:00Z"), end: at("2026-06-01T11:15:00Z"), min: -3 },
      { start: at("2026-06-01T11:30:00Z"), end: at("2026-06-01T11:45:00Z"), min: -4 },
      { start: at("2026-06-01T12:00:00Z"), end: at("2026-06-01T12:15:00Z"), min: -2 },
    ]);
  });
  it("uses the series' step (hourly prices cover an hour)", () => {
    const hourly: PricePair[] = [[0, -1], [3_600_000, -2], [7_200_000, 5]];
    expect(stepOf(hourly)).toBe(3_600_000);
    expect(negativePeriods(hourly)).toEqual([{ start: 0, end: 7_200_000, min: -2 }]);
    expect(stats(hourly).negativeHours).toBe(2);
  });
  it("counts the hours and finds min, max and mean", () => {
    const s = stats(pairs);
    expect(s.negativeHours).toBe(1.25);
    expect(s.min).toEqual({ value: -4, at: at("2026-06-01T11:30:00Z") });
    expect(s.max?.value).toBe(10);
    expect(s.count).toBe(8);
  });
  it("says both units", () => {
    expect(ctPerKwh(123.4)).toBeCloseTo(12.34);
    expect(priceText(-12.5)).toBe("-12.5 EUR/MWh (-1.25 ct/kWh)");
    expect(priceText(null)).toBe("–");
  });
});

describe("days and comparison", () => {
  const day = (d: string) => Array.from({ length: 96 }, (_, i) => [midnight(d, MARKET_TZ) + i * Q, i] as PricePair);
  const pairs = [...day("2026-11-30"), ...day("2026-12-06"), ...day("2026-12-07")];

  it("shows tomorrow once its prices are stored, else today", () => {
    const days = storedDays(pairs);
    expect(days).toEqual(["2026-11-30", "2026-12-06", "2026-12-07"]);
    expect(defaultDay(days, "2026-12-06")).toBe("2026-12-07");
    expect(defaultDay(["2026-12-05", "2026-12-06"], "2026-12-06")).toBe("2026-12-06");
    expect(defaultDay(["2026-12-01"], "2026-12-06")).toBe("2026-12-01");
  });
  it("lays days over each other on hours since local midnight", () => {
    const [first, second] = overlay(pairs, ["2026-12-07", "2026-11-30"], "day");
    expect(first?.points).toHaveLength(96);
    expect(first?.points[0]).toEqual([0, 0]);
    expect(first?.points[95]).toEqual([23.75, 95]);
    expect(second?.key).toBe("2026-11-30");
    expect(compareDefaults("2026-12-07", storedDays(pairs))).toEqual(["2026-12-07", "2026-12-06", "2026-11-30"]);
  });
  it("lays weeks over each other on hours since Monday", () => {
    const [week] = overlay(pairs, ["2026-11-30"], "week");
    expect(week?.points).toHaveLength(96 * 2);
    expect(week?.points[96]?.[0]).toBe(6 * 24); // Sunday 6 December starts 144 h after Monday
  });
  it("a clock-change day has 92 quarter-hours, all within 0–23 h", () => {
    const short = Array.from({ length: 92 }, (_, i) => [midnight("2026-03-29", MARKET_TZ) + i * Q, 50] as PricePair);
    const [one] = overlay(short, ["2026-03-29"], "day");
    expect(one?.points).toHaveLength(92);
    expect(one?.points.at(-1)?.[0]).toBe(22.75);
  });
  it("aligns the EUR/MWh and ct/kWh axes tick by tick", () => {
    const axes = priceAxes(palette(true), [-37, 12, 181.6]);
    const left = must(axes[0]);
    const right = must(axes[1]);
    expect(left?.name).toBe("EUR/MWh");
    expect(right?.name).toBe("ct/kWh");
    expect(left.min / 10).toBe(right.min);
    expect(left.max / 10).toBe(right.max);
    expect(left.interval / 10).toBe(right.interval);
    expect(left.min).toBeLessThanOrEqual(-37);
    expect(left.max).toBeGreaterThanOrEqual(181.6);
    expect(niceStep(230)).toBe(50);
  });
  it("names weekdays on the week axis and keeps one series per week", () => {
    const option = compareOption(overlay(pairs, ["2026-11-30"], "week"), "week", palette(false), (k) => `week of ${k}`, (i) => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i] ?? "");
    expect(option.xAxis.max).toBe(168);
    expect(option.xAxis.axisLabel.formatter(24 * 6)).toBe("Sun");
    expect(option.xAxis.axisLabel.formatter(168)).toBe("");
    expect(option.series.map((s) => s.name)).toEqual(["week of 2026-11-30"]);
  });
});

describe("Market prices page", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("shows the day's numbers with units, its negative periods, and no serious axe violations", async () => {
    const today = dayKey(Date.now(), MARKET_TZ);
    const points: { ts: string; price_eur_mwh: number }[] = [];
    for (const d of [addDays(today, -1), today, addDays(today, 1)]) {
      for (let i = 0; i < 96; i++) points.push({ ts: new Date(midnight(d, MARKET_TZ) + i * Q).toISOString(), price_eur_mwh: i >= 48 && i < 52 ? -20 + i - 48 : 80 + i });
    }
    vi.stubGlobal(
      "fetch",
      fakeApi((url) => {
        if (url.pathname === "/auth/me") return { status: 200, body: { key_id: "k", name: "viewer-key", role: "viewer", prefix: "luna_x", created_at: "2026-01-01T00:00:00Z", roles_allowed: ["viewer"] } };
        if (url.pathname === "/timeseries/prices") {
          const from = Date.parse(url.searchParams.get("from") ?? "");
          const to = Date.parse(url.searchParams.get("to") ?? "");
          return { status: 200, body: { market: "DE-LU", product: "day_ahead", bucket: null, agg: "avg", timezone: MARKET_TZ, points: points.filter((p) => Date.parse(p.ts) >= from && Date.parse(p.ts) < to) } };
        }
        return { status: 404, body: { error: { code: "not_found", message: "no" } } };
      }),
    );
    storeKey("luna_test");
    const { container } = renderApp(<Prices />, { path: "/prices" });
    const dayStats = await screen.findByTestId("day-stats");
    // tomorrow is stored, so it is shown first; midday is negative
    expect(screen.getByRole("heading", { name: new RegExp(`Day-ahead curve`) })).toBeInTheDocument();
    expect(within(dayStats).getByText("-20.0 EUR/MWh")).toBeInTheDocument();
    expect(within(dayStats).getByText(/-2\.00 ct\/kWh · at 12:00/)).toBeInTheDocument();
    expect(within(dayStats).getByText("1.00 h")).toBeInTheDocument();
    expect((await screen.findAllByTestId("negative-periods"))[0]).toHaveTextContent("12:00 – 13:00");
    expect(screen.getByTestId("day-chart")).toHaveAccessibleName(/EUR\/MWh/);
    await userEvent.click(screen.getByRole("button", { name: "Today" }));
    expect(await screen.findByRole("heading", { name: /Day-ahead curve/ })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("radio", { name: "Weeks" }));
    expect(screen.getByTestId("compare-choices")).toHaveTextContent(/Week \d+/);
    expect(await seriousViolations(container)).toEqual([]);
  });
});
