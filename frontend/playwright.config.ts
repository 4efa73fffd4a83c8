import { defineConfig } from "@playwright/test";

// Driven by tests/e2e/test_web_ui.py, which starts a real `luna serve` (temporary data dir, demo data)
// and passes LUNA_BASE_URL and the keys. Debian's Chromium, never a downloaded browser.
export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  workers: 1,
  timeout: 90_000,
  expect: { timeout: 20_000 },
  reporter: [["list"]],
  grep: process.env.LUNA_E2E_GREP ? new RegExp(process.env.LUNA_E2E_GREP) : undefined,
  use: {
    baseURL: process.env.LUNA_BASE_URL ?? "http://127.0.0.1:8001",
    viewport: { width: 1280, height: 900 },
    locale: "en-GB",
    timezoneId: "Europe/Berlin",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    },
  },
});
