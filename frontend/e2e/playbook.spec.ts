// The Playbook in a real browser, against the demo data (tests/e2e/test_web_ui.py).
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ADMIN = process.env.LUNA_ADMIN_KEY ?? "";
const VIEWER = process.env.LUNA_VIEWER_KEY ?? "";
const SHOTS = process.env.LUNA_SCREENSHOTS ?? join(HERE, "..", "test-results", "screenshots");
mkdirSync(SHOTS, { recursive: true });

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

async function openPlaybook(page: Page) {
  await page.getByRole("navigation").getByRole("link", { name: "Playbook", exact: true }).click();
  await expect(page).toHaveURL(/\/playbook$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Playbook");
  await expect(page.getByTestId("rules")).toContainText("soc-reserve");
  await expect(page.getByTestId("dry-run-chart").locator("canvas").first()).toBeVisible();
  await expect(page.getByTestId("plan-saving")).toContainText("€");
  await expect(page.getByTestId("plan-flows-chart").locator("canvas").first()).toBeVisible();
  await expect(page.getByTestId("plan-soc-chart").locator("canvas").first()).toBeVisible();
}

test("Playbook: rules with an inline API error, dry run, plan, what-if side by side", async ({ page }) => {
  await signIn(page, ADMIN);
  await openPlaybook(page);
  await expect(page.getByTestId("dry-run-summary")).toContainText("×");
  await expect(page.getByTestId("plan-stats")).toContainText("kW");

  // A rule edited with an unknown variable: the API's sentence next to the form, the typed text kept.
  await page.getByRole("button", { name: "Edit soc-reserve" }).click();
  const when = page.getByLabel("Condition (when)");
  await when.fill("sco_pct < 20");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("alert")).toContainText("unknown variable 'sco_pct'");
  await expect(page.getByRole("alert")).toContainText("did you mean 'soc_pct'?");
  await expect(when).toHaveValue("sco_pct < 20");
  await expect(when).toHaveAttribute("aria-invalid", "true");
  await page.screenshot({ path: join(SHOTS, "playbook-rule-error-dark.png"), fullPage: true });
  await page.getByRole("button", { name: "Cancel" }).click();

  // What-if: move the battery slider, run, see baseline and variation side by side.
  await page.getByLabel("Battery size").fill("100");
  await page.getByLabel("PV scale").fill("2");
  await page.getByRole("button", { name: "Run what-if" }).click();
  const result = page.getByTestId("whatif-result");
  await expect(page.getByText("100 kWh, PV ×2.0")).toBeVisible({ timeout: 60_000 });
  await expect(result).toContainText("Baseline");
  await expect(result).toContainText("kWh");
  await expect(result).toContainText("€");

  for (const theme of ["dark", "light"] as const) {
    await setTheme(page, theme);
    await page.waitForTimeout(400);
    await expectAccessible(page);
    await page.screenshot({ path: join(SHOTS, `playbook-${theme}.png`), fullPage: true });
  }
  await setTheme(page, "dark");
});

test("Playbook: a viewer sees rules, plan and what-if, and no write or run buttons", async ({ page }) => {
  await signIn(page, VIEWER);
  await openPlaybook(page);
  await expect(page.getByTestId("read-only")).toBeVisible();
  await expect(page.getByRole("button", { name: /^Edit/ })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Run what-if" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Save" })).toHaveCount(0);
  await expect(page.getByLabel("Battery size")).toBeDisabled();
  await expectAccessible(page);
  await page.screenshot({ path: join(SHOTS, "playbook-viewer-dark.png"), fullPage: true });
});
