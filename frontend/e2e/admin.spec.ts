// The admin console in a real browser against a real `luna serve` (set up as for ui.spec.ts):
// a key created (token shown once) and revoked, documents uploaded end to end (drag and drop),
// a meter created, edited with an error shown and the typed values kept, then deleted;
// audit, settings, backups, integrations (a webhook). Screenshots (dark and light) into the same folder as ui.spec.ts.
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ADMIN = process.env.LUNA_ADMIN_KEY ?? "";
const SHOTS = process.env.LUNA_SCREENSHOTS ?? join(HERE, "..", "test-results", "screenshots");
mkdirSync(SHOTS, { recursive: true });

async function signIn(page: Page) {
  await page.goto("/sign-in");
  await page.getByLabel("API key").fill(ADMIN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("caller")).toBeVisible();
}

async function open(page: Page, link: string, path: string) {
  await page.getByRole("navigation").getByRole("link", { name: link, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`${path}$`));
}

/** The theme as the toggle sets it; by class when a modal dialog covers the toggle. */
async function setTheme(page: Page, theme: "dark" | "light") {
  await page.evaluate((dark) => document.documentElement.classList.toggle("dark", dark), theme === "dark");
}

async function expectAccessible(page: Page) {
  const result = await new AxeBuilder({ page }).analyze();
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
}

async function shoot(page: Page, name: string) {
  for (const theme of ["dark", "light"] as const) {
    await setTheme(page, theme);
    await page.waitForTimeout(200);
    await expectAccessible(page);
    await page.screenshot({ path: join(SHOTS, `${name}-${theme}.png`), fullPage: true });
  }
  await setTheme(page, "dark");
}

test("admin: a key created (token shown once, it works) and revoked", async ({ page }) => {
  const name = `e2e-grafana-${Date.now()}`; // unique: the spec may run twice against one server
  await signIn(page);
  await open(page, "API keys", "/console/keys");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Role", { exact: true }).selectOption("analyst");
  await page.getByRole("button", { name: "Create key" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("you will not see it again");
  const token = (await dialog.getByTestId("new-token").textContent())?.trim() ?? "";
  expect(token.length).toBeGreaterThan(20);
  await expect(dialog.getByRole("button", { name: "Copy" })).toBeVisible();
  await shoot(page, "admin-keys-token");
  // The token signs in as the role chosen.
  const me = await page.request.get("/auth/me", { headers: { "X-API-Key": token } });
  expect(me.status()).toBe(200);
  expect((await me.json()).role).toBe("analyst");
  await dialog.getByRole("button", { name: "I have stored the key" }).click();
  await expect(dialog).toHaveCount(0);
  expect(await page.content()).not.toContain(token); // once: gone from the page for good
  const row = page.getByTestId(`key-${name}`);
  await expect(row).toContainText("active");
  await shoot(page, "admin-keys");

  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByRole("dialog")).toContainText("refused from now on");
  await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
  await expect(row).toContainText("revoked");
  await expect(row.getByRole("button", { name: "Revoke" })).toHaveCount(0);
  expect((await page.request.get("/auth/me", { headers: { "X-API-Key": token } })).status()).toBe(401);
});

test("admin: documents dropped, followed to ready (and a refused one in the API's words), reindexed, deleted", async ({ page }) => {
  await signIn(page);
  await open(page, "Documents", "/console/documents");
  const text = `# E2E heat pump notes\n\nThe heat pump in hall ${Date.now()} runs at night when prices are low.\n\n## Maintenance\n\nCheck the filter every three months.\n`;
  // Drag and drop, as a person does: a DataTransfer with two files on the drop zone.
  const transfer = await page.evaluateHandle((md) => {
    const data = new DataTransfer();
    data.items.add(new File([md], "e2e-heat-pump.md", { type: "text/markdown" }));
    data.items.add(new File([new Uint8Array([0, 1, 2, 3, 255, 254, 0, 7, 9, 0])], "e2e-noise.bin", { type: "application/octet-stream" }));
    return data;
  }, text);
  await page.getByTestId("dropzone").dispatchEvent("drop", { dataTransfer: transfer });
  const uploads = page.getByTestId("upload");
  await expect(uploads).toHaveCount(2);
  const good = uploads.filter({ hasText: "e2e-heat-pump.md" });
  const bad = uploads.filter({ hasText: "e2e-noise.bin" });
  await expect(good).toHaveAttribute("data-phase", "ready", { timeout: 60_000 });
  await expect(good).toContainText(/ready · \d+ of \d+ chunks/);
  await expect(bad).toHaveAttribute("data-phase", /error|failed/);
  await expect(bad.getByRole("alert")).not.toBeEmpty();
  const docRow = page.getByTestId("document").filter({ hasText: "E2E heat pump notes" });
  await expect(docRow).toContainText("ready");
  await shoot(page, "admin-documents");

  await docRow.getByRole("button", { name: "Reindex" }).click();
  await expect(page.getByRole("status")).toContainText("Reindex of “E2E heat pump notes” queued");
  await expect(docRow).toContainText("ready", { timeout: 60_000 });
  await expect(docRow.getByRole("button", { name: "Reindex" })).toBeEnabled();
  await docRow.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(docRow).toHaveCount(0);
});

test("admin: a meter created, an edit refused (interval_s 0) with the typed values kept, fixed, deleted", async ({ page }) => {
  await signIn(page);
  await open(page, "Meters", "/console/meters");
  await page.getByRole("button", { name: "Add a meter" }).click();
  await page.getByLabel("Meter id").fill("e2e-meter-1"); // deleted at the end
  await page.getByLabel("Site", { exact: true }).fill("e2e-site");
  await page.getByLabel("Kind", { exact: true }).selectOption("production");
  await page.getByRole("button", { name: "Add meter" }).click();
  await expect(page.getByRole("status")).toContainText("Meter e2e-meter-1 saved");
  const row = page.getByTestId("meter-e2e-meter-1");
  await expect(row).toContainText("production");

  await row.getByRole("button", { name: "Edit e2e-meter-1" }).click();
  const form = page.getByTestId("meter-form");
  await form.getByLabel("Site", { exact: true }).fill("north hall");
  await form.getByLabel("Time zone").fill("Europe/Vienna");
  await form.getByLabel("Interval (s)").fill("0");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(form.getByRole("alert")).toContainText("body.interval_s: Input should be greater than or equal to 1");
  await expect(form.getByLabel("Interval (s)")).toHaveAttribute("aria-invalid", "true");
  await expect(form.getByLabel("Interval (s)")).toHaveValue("0");
  await expect(form.getByLabel("Site", { exact: true })).toHaveValue("north hall");
  await expect(form.getByLabel("Time zone")).toHaveValue("Europe/Vienna");
  await shoot(page, "admin-meters-error");

  await form.getByLabel("Interval (s)").fill("900");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status")).toContainText("Meter e2e-meter-1 saved");
  await expect(row).toContainText("north hall");
  await expect(row).toContainText("900 s");
  await expect(row).toContainText("Europe/Vienna");
  await shoot(page, "admin-meters");

  await row.getByRole("button", { name: "Delete" }).click();
  await expect(page.getByRole("dialog")).toContainText("destroys data");
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(row).toHaveCount(0);
});

test("admin: audit trail with filters, settings redacted with the privacy switch, backups", async ({ page }) => {
  await signIn(page);
  await open(page, "Audit trail", "/console/audit");
  const audit = page.getByTestId("audit");
  await expect(audit.locator("tbody tr").first()).toBeVisible();
  await page.getByLabel("Method", { exact: true }).selectOption("POST");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(audit.locator("tbody tr td:nth-child(4)").first()).toHaveText("POST");
  expect(new Set(await audit.locator("tbody tr td:nth-child(4)").allTextContents())).toEqual(new Set(["POST"]));
  await shoot(page, "admin-audit");

  await open(page, "Settings", "/console/settings");
  const settings = page.getByTestId("settings");
  await expect(settings.getByRole("row").filter({ hasText: "luna_admin_key" })).toContainText("redacted");
  expect(await page.content()).not.toContain(ADMIN);
  const toggle = page.getByRole("switch", { name: "Allow the aggregated statistics export" });
  await expect(toggle).toHaveAttribute("aria-checked", "false");
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-checked", "true");
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-checked", "false");

  // Privacy & learning: the ε budget (this month's ledger), the public key, exports refused while the
  // switch is off (the API's 409), written when it is on.
  const month = new Date().toISOString().slice(0, 7);
  await expect(page.getByTestId("learn-budget")).toContainText(month);
  await expect(page.getByTestId("learn-public-key")).not.toBeEmpty();
  const learning = page.getByTestId("learning");
  await learning.getByRole("button", { name: "Create export" }).click();
  await expect(learning.getByRole("alert")).toContainText("(409)");
  await shoot(page, "admin-settings-export-refused");
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-checked", "true");
  await learning.getByRole("button", { name: "Create export" }).click();
  await expect(page.getByTestId("learn-export")).toContainText(".json");
  await expect(page.getByTestId("learn-budget").getByRole("row").filter({ hasText: month }).getByRole("cell").nth(1)).not.toHaveText("0.00");
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-checked", "false");
  await shoot(page, "admin-settings");

  await open(page, "Backups", "/console/backups");
  await page.getByRole("button", { name: "Create a backup now" }).click();
  await expect(page.getByRole("status")).toContainText(/Backup luna-\S+ created/, { timeout: 60_000 });
  const first = page.getByTestId("backups").locator("tbody tr").first();
  await first.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("status")).toContainText("intact");
  await first.getByRole("button", { name: "Restore" }).click();
  await expect(page.getByRole("dialog")).toContainText("replaces the database");
  await page.getByRole("dialog").getByRole("button", { name: "Restore" }).click();
  // A running instance refuses and names the command: shown as the API says it.
  await expect(page.getByRole("alert").first()).toContainText("(409)");
  await shoot(page, "admin-backups");
});

test("admin: a webhook added (secret shown once, signed deliveries documented) and deleted; integration status", async ({ page }) => {
  const name = `e2e-ops-${Date.now()}`;
  await signIn(page);
  await open(page, "Integrations", "/console/integrations");
  await expect(page.getByTestId("status-prices")).toContainText("off: no source configured");
  await expect(page.getByTestId("status-devices")).toContainText("off: no device file");
  await expect(page.getByTestId("status-dispatch")).toContainText("off");
  // A refused URL: the API's words, the typed text kept.
  await page.getByLabel("URL", { exact: true }).fill("ftp://files.example.org");
  await page.getByRole("button", { name: "Add webhook" }).click();
  await expect(page.getByRole("alert").first()).toContainText("url");
  await expect(page.getByLabel("URL", { exact: true })).toHaveValue("ftp://files.example.org");
  await page.getByLabel("URL", { exact: true }).fill("https://ops.example.org/luna");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Least severity", { exact: true }).selectOption("warning");
  await page.getByRole("button", { name: "Add webhook" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("shown this once");
  const secret = (await dialog.getByTestId("webhook-secret").textContent())?.trim() ?? "";
  expect(secret.length).toBeGreaterThanOrEqual(16);
  await shoot(page, "admin-integrations-secret");
  await dialog.getByRole("button", { name: "I have stored the secret" }).click();
  await expect(dialog).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);
  const row = page.getByTestId(`webhook-${name}`);
  await expect(row).toContainText("https://ops.example.org/luna");
  await expect(row).toContainText("warning");
  await shoot(page, "admin-integrations");
  await row.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(row).toHaveCount(0);
});

test("admin console in German", async ({ browser }) => {
  const context = await browser.newContext({ locale: "de-DE" });
  const page = await context.newPage();
  await page.addInitScript((key) => sessionStorage.setItem("luna.apiKey", key), ADMIN);
  await page.goto("/console/documents");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Dokumente");
  await expect(page.getByText("Dateien hierher ziehen")).toBeVisible();
  await expect(page.getByTestId("documents")).toContainText("bereit");
  await expectAccessible(page);
  await page.screenshot({ path: join(SHOTS, "admin-documents-de-dark.png"), fullPage: true });
  await page.goto("/console/settings");
  await expect(page.getByRole("heading", { level: 2, name: "Datenschutz & Lernen" })).toBeVisible();
  await expect(page.getByTestId("learn-budget")).toContainText("Verbraucht");
  await expectAccessible(page);
  await page.screenshot({ path: join(SHOTS, "admin-settings-de-dark.png"), fullPage: true });
  await context.close();
});
