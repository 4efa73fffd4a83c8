// Support in a real browser against a real `luna serve` with the demo documents (set up as for
// ui.spec.ts): a question to Luna answered with a citation, the cited passage opened, a document search
// whose hit opens the same viewer, the footer's version and placeholders; the Luna insight panel on Home.
// Screenshots (dark and light) into the same folder as ui.spec.ts's.
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Locator, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const VIEWER = process.env.LUNA_VIEWER_KEY ?? process.env.LUNA_ADMIN_KEY ?? "";
const SHOTS = process.env.LUNA_SCREENSHOTS ?? join(HERE, "..", "test-results", "screenshots");
mkdirSync(SHOTS, { recursive: true });

async function signIn(page: Page) {
  await page.goto("/sign-in");
  await page.getByLabel("API key").fill(VIEWER);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("caller")).toBeVisible();
}

/** The theme as the toggle sets it (charts redraw); by class while the passage panel covers the toggle. */
async function setTheme(page: Page, theme: "dark" | "light") {
  const isDark = await page.evaluate(() => document.documentElement.classList.contains("dark"));
  if ((theme === "dark") === isDark) return;
  if ((await page.getByTestId("chunk-viewer").count()) > 0) {
    await page.evaluate((dark) => document.documentElement.classList.toggle("dark", dark), theme === "dark");
  } else {
    await page.getByRole("button", { name: theme === "dark" ? "Dark mode" : "Light mode" }).click();
  }
}

async function expectAccessible(page: Page) {
  const result = await new AxeBuilder({ page }).analyze();
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
}

/** fullPage: false while the passage panel (fixed to the viewport) is open. */
async function shoot(page: Page, name: string, fullPage = true) {
  for (const theme of ["dark", "light"] as const) {
    await setTheme(page, theme);
    await page.waitForTimeout(300); // the chart redraws in the theme's colours
    await expectAccessible(page);
    await page.screenshot({ path: join(SHOTS, `${name}-${theme}.png`), fullPage });
  }
  await setTheme(page, "dark");
}

/** The demo documents are indexed in the background after start: ask until Luna finds them. */
async function askUntilCited(chat: Locator, question: string) {
  await expect(async () => {
    await chat.getByRole("button", { name: "New conversation" }).click({ timeout: 500 }).catch(() => undefined);
    await chat.getByLabel("Your question").fill(question);
    await chat.getByRole("button", { name: "Ask" }).click();
    await expect(chat.getByTestId("luna-answer").last()).toBeVisible({ timeout: 15_000 });
    await expect(chat.getByTestId("luna-answer").last().getByRole("button", { name: /^Source 1:/ }).first()).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 60_000, intervals: [1_000, 2_000, 5_000] });
}

test("support: Luna answers a question about the demo site with a citation that opens the passage; search; footer", async ({ page }) => {
  await signIn(page);
  await page.getByRole("navigation").getByRole("link", { name: "Support", exact: true }).click();
  await expect(page).toHaveURL(/\/support$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Support");
  await expect(page.getByTestId("support-version")).not.toBeEmpty();
  await expect(page.getByTestId("support-privacy")).toContainText("Placeholder");
  await expect(page.getByTestId("support-imprint")).toContainText("Placeholder");

  const chat = page.getByTestId("luna-chat");
  await askUntilCited(chat, "What is the peak-shaving limit of the battery at the Lunaburg depot?");
  const answer = chat.getByTestId("luna-answer").last();
  await expect(answer).toContainText("380 kW");
  await expect(chat.getByTestId("luna-sources").last()).toContainText("Lunaburg");
  await expect(chat.getByLabel("Your question")).toHaveValue("");
  await expect(chat).toContainText("Follow-up questions continue this conversation.");

  // Thumbs up under the answer: POST /feedback with its answer_id, recorded; the vote can change.
  const vote = chat.getByTestId("luna-vote").last();
  await vote.getByRole("button", { name: "Helpful", exact: true }).click();
  await expect(vote.getByTestId("luna-vote-state")).toHaveText(/^Recorded: helpful\./);
  await expect(vote.getByRole("button", { name: "Helpful", exact: true })).toHaveAttribute("aria-pressed", "true");
  // What Luna remembers: the conversation just held is listed, titled by its first question.
  await expect(page.getByTestId("memory-conversations")).toContainText("question");
  await expect(page.getByTestId("conversation-title").first()).toHaveText("What is the peak-shaving limit of the battery at the Lunaburg depot?");

  await answer.getByRole("button", { name: /^Source 1:/ }).first().click();
  const viewer = page.getByTestId("chunk-viewer");
  await expect(viewer).toBeVisible();
  await expect(viewer.getByTestId("chunk-title")).toContainText("Lunaburg");
  await expect(viewer.getByTestId("chunk-text")).toContainText("380 kW");
  await expect(viewer).toContainText(/Passage \d+ of \d+/);
  await shoot(page, "support-citation", false);
  await viewer.getByRole("button", { name: "Close" }).click();
  await expect(viewer).toHaveCount(0);

  // A follow-up in the same conversation.
  await chat.getByLabel("Your question").fill("How much reserve is kept in winter?");
  await chat.getByRole("button", { name: "Ask" }).click();
  await expect(chat.getByTestId("luna-turn")).toHaveCount(2);
  await expect(chat.getByTestId("luna-answer").nth(1)).not.toBeEmpty();

  await page.getByLabel("Search terms").fill("pumping station reservoir");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  const results = page.getByTestId("search-results");
  await expect(results.getByRole("listitem").first()).toBeVisible();
  await expect(results).toContainText("Lunaburg");
  await shoot(page, "support");
  await results.getByRole("listitem").first().getByRole("button").click();
  await expect(page.getByTestId("chunk-viewer").getByTestId("chunk-text")).not.toBeEmpty();
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("chunk-viewer")).toHaveCount(0);
});

test("home: the Luna insight panel answers with a citation", async ({ page }) => {
  await signIn(page);
  const panel = page.getByRole("region", { name: "Luna insight panel" }).or(page.locator("section", { hasText: "Luna insight panel" }));
  const chat = panel.getByTestId("luna-chat");
  await askUntilCited(chat, "When may the battery charge from the grid?");
  await expect(chat.getByTestId("luna-answer").last()).toContainText("40 EUR/MWh");
  await chat.getByTestId("luna-answer").last().getByRole("button", { name: /^Source 1:/ }).first().click();
  await expect(page.getByTestId("chunk-viewer").getByTestId("chunk-text")).toContainText("40 EUR/MWh");
  await page.getByTestId("chunk-viewer").getByRole("button", { name: "Close" }).click();
  await expect(page.getByTestId("kpis").first()).toContainText("kWh");
  await shoot(page, "home-luna");
});

test("support in German: Luna's memory panel and the vote labels", async ({ browser }) => {
  const context = await browser.newContext({ locale: "de-DE" });
  const page = await context.newPage();
  await page.addInitScript((key) => sessionStorage.setItem("luna.apiKey", key), VIEWER);
  await page.goto("/support");
  await expect(page.getByRole("heading", { level: 2, name: "Was Luna sich merkt" })).toBeVisible();
  await expect(page.getByTestId("memory")).toContainText("Standort");
  await expectAccessible(page);
  await page.screenshot({ path: join(SHOTS, "support-de-dark.png"), fullPage: true });
  await context.close();
});
