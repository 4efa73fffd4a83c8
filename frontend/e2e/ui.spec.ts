import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ADMIN = process.env.LUNA_ADMIN_KEY ?? "";
const VIEWER = process.env.LUNA_VIEWER_KEY ?? "";
// `make test` writes to test-results/ (no binary churn in git); `make screenshots` refreshes docs/screenshots/.
const SHOTS = process.env.LUNA_SCREENSHOTS ?? join(HERE, "..", "test-results", "screenshots");
const RESULTS = join(HERE, "..", "test-results");
mkdirSync(SHOTS, { recursive: true });
mkdirSync(RESULTS, { recursive: true });

/** Sign in through the form (what a person does). */
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

/** No serious or critical axe violation (colour contrast included: a real browser lays out). */
async function expectAccessible(page: Page) {
  const result = await new AxeBuilder({ page }).analyze();
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
}

async function shoot(page: Page, name: string) {
  for (const theme of ["dark", "light"] as const) {
    await setTheme(page, theme);
    await page.waitForTimeout(300); // the chart redraws in the theme's colours
    await expectAccessible(page);
    await page.screenshot({ path: join(SHOTS, `${name}-${theme}.png`), fullPage: true });
  }
  await setTheme(page, "dark");
}

async function homeHasData(page: Page) {
  const kpis = page.getByTestId("kpis");
  await expect(kpis.first()).toContainText("kWh");
  await expect(kpis.first()).toContainText("%");
  await expect(kpis.first()).toContainText("kW");
  await expect(page.getByTestId("latest")).toContainText(/\d kW/);
  await expect(page.locator("canvas").first()).toBeVisible();
}

test("a wrong key shows the API's own message", async ({ page }) => {
  await page.goto("/sign-in");
  await page.getByLabel("API key").fill("luna_not_a_real_key_000000000000000000");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("invalid API key");
  await shoot(page, "sign-in-error");
});

test("admin: sign in, Home with data, Admin → System, placeholders", async ({ page }) => {
  await signIn(page, ADMIN);
  await homeHasData(page);
  await expect(page.getByTestId("home-plan-saving")).toContainText("€");
  // Recommended for you: ranked actions with their reason (POST /recommend); dismiss hides one.
  const recommendations = page.getByTestId("recommendations").getByTestId("recommendation");
  await expect(recommendations.first()).toBeVisible();
  const shown = await recommendations.count();
  expect(shown).toBeGreaterThan(1);
  await expect(page.getByTestId("recommendation-reason").first()).not.toBeEmpty();
  await recommendations.last().getByRole("button", { name: /^Dismiss/ }).click();
  await expect(recommendations).toHaveCount(shown - 1);
  await shoot(page, "home");

  await page.getByRole("navigation").getByRole("link", { name: "System", exact: true }).click();
  await expect(page).toHaveURL(/\/console\/system$/);
  await expect(page.getByTestId("readiness")).toContainText("ready");
  await expect(page.getByRole("cell", { name: "database", exact: true })).toBeVisible();
  await expect(page.getByTestId("jobs")).toContainText("rollup");
  await shoot(page, "admin-system");

  // A reload of a client route reaches the app (the server's fallback), still signed in.
  await page.reload();
  await expect(page.getByTestId("readiness")).toBeVisible();

  // Every page is built now (no "coming next" placeholder left): the Playbook has its own spec.
  await page.getByRole("navigation").getByRole("link", { name: "Playbook" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Playbook");
});

test("first load of Home, measured (reported, not asserted)", async ({ page }) => {
  await page.addInitScript((key) => sessionStorage.setItem("luna.apiKey", key), ADMIN);
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = Date.now();
    await page.goto("/", { waitUntil: "commit" });
    await homeHasData(page);
    runs.push(Date.now() - start);
  }
  const nav = await page.evaluate(() => {
    const entry = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    return { domContentLoadedMs: Math.round(entry.domContentLoadedEventEnd), loadMs: Math.round(entry.loadEventEnd) };
  });
  const result = { homeWithDataMs: runs, ...nav, note: "page.goto('/') until KPIs, latest readings and the chart are shown; run 1 is a cold cache" };
  writeFileSync(join(RESULTS, "first-load.json"), JSON.stringify(result, null, 2));
  console.log(`first load of Home: ${JSON.stringify(result)}`);
});

test("German when the browser prefers it", async ({ browser }) => {
  const context = await browser.newContext({ locale: "de-DE" });
  const page = await context.newPage();
  await page.addInitScript((key) => sessionStorage.setItem("luna.apiKey", key), ADMIN);
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Start");
  await expect(page.getByTestId("kpis").first()).toContainText("Verbrauch");
  await homeHasData(page);
  await page.screenshot({ path: join(SHOTS, "home-de-dark.png"), fullPage: true });
  await context.close();
});

test("a viewer sees no admin pages and no write buttons", async ({ page }) => {
  await signIn(page, VIEWER);
  await homeHasData(page);
  await expect(page.getByTestId("admin-nav")).toHaveCount(0);
  await expect(page.getByRole("link", { name: "System" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Acknowledge" })).toHaveCount(0);
  await page.screenshot({ path: join(SHOTS, "home-viewer-dark.png"), fullPage: true });
  await page.goto("/console/system");
  await expect(page.getByRole("alert")).toContainText("needs the role 'admin'");
});

test("backend down or answering 503: a banner, never a blank page", async ({ page, context }) => {
  await signIn(page, ADMIN);
  await homeHasData(page);
  // The network gone (as the browser sees a stopped server): every request fails.
  await context.setOffline(true);
  await page.getByRole("button", { name: "Light mode" }).click(); // any interaction; then refetch
  await page.getByRole("navigation").getByRole("link", { name: "System", exact: true }).click();
  await expect(page.getByRole("alert").first()).toContainText("cannot be reached");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("System");
  await page.getByRole("button", { name: "Dark mode" }).click();
  await page.screenshot({ path: join(SHOTS, "backend-down-dark.png"), fullPage: true });
  await context.setOffline(false);
  // A 503 in the API's error shape (as the API answers when its database is gone): its message shown.
  await page.route("**/status/summary", (route) =>
    route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "backend_unavailable", message: "the database is not answering; retry shortly (see /health/ready)", details: { component: "database" } } }) }),
  );
  await page.getByRole("button", { name: "Retry now" }).click();
  await expect(page.getByRole("alert").first()).toContainText("the database is not answering");
  await page.unroute("**/status/summary");
  await page.getByRole("button", { name: "Retry now" }).click();
  await expect(page.getByRole("alert")).toHaveCount(0);
});

test("Swagger UI and ReDoc render with every outside host blocked", async ({ page, baseURL }) => {
  const outside: string[] = [];
  await page.route(/^(?!https?:\/\/(127\.0\.0\.1|localhost)[:/]).*/, (route) => {
    outside.push(route.request().url());
    return route.abort();
  });
  await page.goto("/docs");
  await expect(page.locator(".swagger-ui .info .title")).toContainText("Luna-IEMS");
  await page.goto("/redoc");
  await expect(page.locator("h1").first()).toContainText("Luna-IEMS");
  expect(outside, `requests outside ${baseURL}`).toEqual([]);
});
