import { describe, expect, it } from "vitest";
import i18n from "../src/i18n";
import { energy, percent, withUnit } from "../src/format";
import { jobMetrics } from "../src/pages/system/metrics";

describe("numbers carry their unit", () => {
  it("in English and German", async () => {
    await i18n.changeLanguage("en");
    expect(energy(1234.56)).toBe("1,234.6 kWh");
    expect(energy(25_000)).toBe("25.00 MWh");
    expect(percent(0.123)).toBe("12.3 %");
    expect(withUnit(null, "kW")).toBe("–");
    await i18n.changeLanguage("de");
    expect(energy(1234.56)).toBe("1.234,6 kWh");
    await i18n.changeLanguage("en");
  });
});

describe("job metrics from /metrics", () => {
  it("reads failures and mean run time per job", () => {
    const text = ['luna_job_failures_total{job="rules"} 2.0', 'luna_job_duration_seconds_sum{job="rules"} 3.0', 'luna_job_duration_seconds_count{job="rules"} 4.0'].join("\n");
    expect(jobMetrics(text).get("rules")).toEqual({ failures: 2, meanSeconds: 0.75 });
  });
});
