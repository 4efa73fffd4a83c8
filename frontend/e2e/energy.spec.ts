// Market prices and Smart meters in a real browser, against the demo data (tests/e2e/test_web_ui.py).
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ADMIN = process.env.LUNA_ADMIN_KEY ?? "";
const VIEWER = process.env.LUNA_VIEWER_KEY ?? "";
const SHOTS = process.env.LUNA_SCREENSHOTS ?? join(HERE, "..", "test-results", "screenshots");
const RESULTS = join(HERE, "..", "test-results");
mkdirSync(SHOTS, { recursive: true });
mkdirSync(RESULTS, { recursive: true });

async function signIn(page: Page, key: string) {
  await page.goto("/");
  await expect(page).toHaveURL(/\/sign-in$/);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("caller")).toBeVisible();
}

async function setTheme(page: Page, theme: "dark" | "light") {
  const isDark = await page.evaluate(() => document.documentElement.classList.contains("dark"));
  if ((theme === "dark") !== isDark) await page.getByRole("button", { name: theme === "dark" ? "Dark mode" : "Light mode" }).click();
}

async function expectAccessible(page: Page) {
  const result = await new AxeBuilder({ page }).analyze();
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
}

async function shoot(page: Page, name: string) {
  for (const theme of ["dark", "light"] as const) {
    await setTheme(page, theme);
    await page.waitForTimeout(400); // the charts redraw in the theme's colours
    await expectAccessible(page);
    await page.screenshot({ path: join(SHOTS, `${name}-${theme}.png`), fullPage: true });
  }
  await setTheme(page, "dark");
}

const nav = (page: Page, name: string) => page.getByRole("navigation").getByRole("link", { name, exact: true }).click();

test("Market prices: day-ahead curve, history with zoom, comparison, units", async ({ page }) => {
  await signIn(page, ADMIN);
  await nav(page, "Market prices");
  await expect(page).toHaveURL(/\/prices$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Market prices");
  const stats = page.getByTestId("day-stats");
  await expect(stats).toContainText("EUR/MWh");
  await expect(stats).toContainText("ct/kWh");
  await expect(stats).toContainText(/\d h/);
  for (const chart of ["day-chart", "history-chart", "compare-chart"]) await expect(page.getByTestId(chart).locator("canvas").first()).toBeVisible();
  await expect(page.getByRole("heading", { name: /Day-ahead curve/ })).toBeVisible();
  await page.getByRole("button", { name: "Today" }).click();
  await expect(stats).toContainText("EUR/MWh");
  await shoot(page, "prices");
  await page.getByRole("radio", { name: "Weeks" }).click();
  await expect(page.getByTestId("compare-choices")).toContainText(/Week \d+/);
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, "prices-weeks-dark.png"), fullPage: true });
});

test("Smart meters: live values, trend, quality, simulation start and stop", async ({ page }) => {
  await signIn(page, ADMIN);
  await nav(page, "Smart meters");
  await expect(page).toHaveURL(/\/smart-meters$/);
  await expect(page.getByTestId("live")).toContainText(/\d kW/);
  await expect(page.getByTestId("live")).toContainText(/\d V/);
  await expect(page.getByTestId("newest-reading")).toContainText("Newest reading:");
  await expect(page.getByTestId("trend-chart").locator("canvas").first()).toBeVisible();
  await expect(page.getByTestId("quality")).toContainText("%");
  // Totals of the shown week for the site: GET /kpis, the figures Luna's KPI answers cite.
  await expect(page.getByTestId("period-kpis")).toContainText(/\d kWh|\d MWh/);
  await shoot(page, "meters");

  const before = await page.getByTestId("newest-reading").textContent();
  await page.getByRole("button", { name: "Start simulation" }).click();
  await expect(page.getByTestId("sim-status")).toContainText("running");
  // live readings arrive every 5 s; the page polls every 5 s: the newest reading moves on by itself
  await expect(page.getByTestId("newest-reading")).not.toHaveText(before ?? "", { timeout: 30_000 });
  await expect(page.getByTestId("sim-status")).toContainText(/[1-9]\d* rows written/, { timeout: 20_000 });
  await page.getByRole("button", { name: "Stop simulation" }).click();
  await expect(page.getByTestId("sim-status")).toContainText("stopped");
  await expect(page.getByRole("button", { name: "Start simulation" })).toBeVisible();
});

test("a year of 15-minute readings (35,040 points) renders; time measured (reported, not asserted)", async ({ page, request }) => {
  // One meter gets a year of history (the demo seeds four weeks), through the simulator's backfill.
  const now = Date.now();
  const backfill = await request.post("/sim/meter/generate", {
    headers: { "X-API-Key": ADMIN },
    data: { meter_ids: ["sim-household-001"], from: new Date(now - 366 * 86_400_000).toISOString(), to: new Date(now - 27 * 86_400_000).toISOString() },
  });
  expect(backfill.ok(), await backfill.text()).toBe(true);
  // The backfill's rollups are brought up to date by the next query (or the rollup job within 30 s):
  // one query first, so the runs measure the chart's request, not a year's rollup refresh.
  const warm = await request.get("/timeseries/readings/columns", {
    headers: { "X-API-Key": ADMIN },
    params: { meter_id: "sim-household-001", from: new Date(now - 366 * 86_400_000).toISOString(), to: new Date(now).toISOString(), bucket: "15m" },
  });
  expect(warm.ok(), await warm.text()).toBe(true);
  await signIn(page, ADMIN);
  const runs: { points: number; renderMs: number; requestToRenderedMs: number; fetchMs: number }[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await page.reload();
    await nav(page, "Smart meters");
    await page.getByTestId("scope").selectOption("meter:sim-household-001");
    await page.getByLabel("Range").selectOption("1y");
    const asked = Date.now();
    await page.getByLabel("Bucket").selectOption("15m");
    const stats = page.getByTestId("trend-stats");
    await expect(stats).toHaveAttribute("data-render-ms", /\d+/, { timeout: 60_000 });
    const points = Number(await stats.getAttribute("data-points"));
    const renderMs = Number(await stats.getAttribute("data-render-ms"));
    // The columns request as the browser saw it (Resource Timing: request start to last byte).
    const fetchMs = await page.evaluate(() => {
      const entries = performance.getEntriesByType("resource").filter((entry) => entry.name.includes("/timeseries/readings/columns") && entry.name.includes("bucket=15m"));
      const last = entries[entries.length - 1] as PerformanceResourceTiming | undefined;
      return last ? Math.round(last.responseEnd - last.startTime) : -1;
    });
    // Drawn at (epoch ms, the page's clock = this machine's): no polling delay of `expect` in the figure.
    const renderedAt = Number(await stats.getAttribute("data-rendered-at"));
    runs.push({ points, renderMs, requestToRenderedMs: renderedAt - asked, fetchMs });
    expect(points).toBeGreaterThan(34_000);
    await expect(stats).toContainText("drawn in");
  }
  // Interactive afterwards: zoom in with the wheel over the chart.
  const chart = page.getByTestId("trend-chart");
  await chart.hover();
  await page.mouse.wheel(0, -600);
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, "meters-year-dark.png"), fullPage: true });
  const result = { runs, note: "renderMs: from the readings' JSON received (TanStack Query dataUpdatedAt) to ECharts' 'finished' event (shaping + React + canvas, LTTB sampling, progressive); requestToRenderedMs: from choosing the bucket (test clock) to the chart drawn (the page's clock, same machine): API query over a year, JSON, shaping, drawing; fetchMs: the columns request in Resource Timing; run 1 loads the chart code, rollups are warm" };
  writeFileSync(join(RESULTS, "year-render.json"), JSON.stringify(result, null, 2));
  console.log(`year of 15-min data: ${JSON.stringify(result)}`);
});

test("a viewer sees prices and meters, and no simulation buttons", async ({ page }) => {
  await signIn(page, VIEWER);
  await nav(page, "Smart meters");
  await expect(page.getByTestId("sim-status")).toBeVisible();
  await expect(page.getByTestId("live")).toContainText(/\d kW/);
  await expect(page.getByRole("button", { name: /simulation/i })).toHaveCount(0);
  await expect(page.getByText("Starting and stopping needs the role analyst.")).toBeVisible();
  await expectAccessible(page);
  await page.screenshot({ path: join(SHOTS, "meters-viewer-dark.png"), fullPage: true });
  await nav(page, "Market prices");
  await expect(page.getByTestId("day-stats")).toContainText("EUR/MWh");
});

test("German: Marktpreise and Smart Meter", async ({ browser }) => {
  const context = await browser.newContext({ locale: "de-DE" });
  const page = await context.newPage();
  await page.addInitScript((key) => sessionStorage.setItem("luna.apiKey", key), ADMIN);
  await page.goto("/prices");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Marktpreise");
  await expect(page.getByTestId("day-stats")).toContainText("Niedrigster");
  await expect(page.getByTestId("day-chart").locator("canvas").first()).toBeVisible();
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, "prices-de-dark.png"), fullPage: true });
  await page.goto("/smart-meters");
  await expect(page.getByTestId("live")).toContainText("Verbrauch");
  await expect(page.getByTestId("trend-chart").locator("canvas").first()).toBeVisible();
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, "meters-de-dark.png"), fullPage: true });
  await context.close();
});
