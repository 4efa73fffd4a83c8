import { describe, expect, it } from "vitest";
import { midnight } from "../src/pages/energy/time";
import { homeLink, pickSite, planStart } from "../src/pages/home/linkParams";
import { bucketsForHours, fitBucketHours } from "../src/pages/meters/meterData";
import { browserTz, daysBetween, linkTz, MAX_LINK_DAYS, parseDay, parsePeriod, withParams } from "../src/links";
import { linkWindow, metersLink, siteScope } from "../src/pages/meters/linkParams";
import { planRequest } from "../src/pages/playbook/data";
import { linkedScenario } from "../src/pages/playbook/linkParams";
import { historyStart, pricesLink } from "../src/pages/prices/linkParams";

const q = (search: string) => new URLSearchParams(search);

describe("link dates", () => {
  it("takes calendar days that exist, nothing else", () => {
    expect(parseDay("2026-12-06")).toBe("2026-12-06");
    expect(parseDay("2028-02-29")).toBe("2028-02-29");
    for (const bad of [null, undefined, "", "2026-02-30", "2026-13-01", "2026-12-6", "06.12.2026", "2026-12-06T00:00", " 2026-12-06", "1899-01-01", "tomorrow"]) {
      expect(parseDay(bad)).toBeNull();
    }
  });
  it("reads a period with an exclusive end day, as Luna writes it", () => {
    expect(parsePeriod("2026-11-01", "2026-12-01")).toEqual({ from: "2026-11-01", to: "2026-12-01" });
    expect(daysBetween("2026-11-01", "2026-12-01")).toBe(30);
  });
  it("falls back to the first day when the end is missing, invalid or not after the start; no start: no period", () => {
    expect(parsePeriod("2026-12-06", null)).toEqual({ from: "2026-12-06", to: "2026-12-07" });
    expect(parsePeriod("2026-12-06", "soon")).toEqual({ from: "2026-12-06", to: "2026-12-07" });
    expect(parsePeriod("2026-12-06", "2026-12-06")).toEqual({ from: "2026-12-06", to: "2026-12-07" });
    expect(parsePeriod("2026-12-06", "2026-12-01")).toEqual({ from: "2026-12-06", to: "2026-12-07" });
    expect(parsePeriod(null, "2026-12-07")).toBeNull();
    expect(parsePeriod("2026-02-30", "2026-03-02")).toBeNull();
  });
  it("opens at most a year: a longer period shows its first MAX_LINK_DAYS days", () => {
    const period = parsePeriod("2020-01-01", "2026-01-01");
    expect(period?.from).toBe("2020-01-01");
    expect(daysBetween(period?.from ?? "", period?.to ?? "")).toBe(MAX_LINK_DAYS);
  });
  it("changes URL parameters without touching the others", () => {
    expect(withParams(q("site=a&from=2026-12-01&to=2026-12-02"), { from: null, to: null }).toString()).toBe("site=a");
    expect(withParams(q("day=2026-12-06"), { site: "b c" }).toString()).toBe("day=2026-12-06&site=b+c");
  });
});

describe("smart meters link", () => {
  it("reads site and period; the site counts only when the meters have it", () => {
    const link = metersLink(q("site=plant&from=2026-11-30&to=2026-12-07"));
    expect(link).toEqual({ site: "plant", period: { from: "2026-11-30", to: "2026-12-07" }, tz: browserTz() });
    expect(siteScope(null, link.site, ["home", "plant"])).toBe("site:plant");
    expect(siteScope(null, "nowhere", ["home", "plant"])).toBe("site:home");
    expect(siteScope("meter:m1", "plant", ["home", "plant"])).toBe("meter:m1");
    expect(siteScope(null, null, [])).toBe("");
    expect(metersLink(q("site=&from=x"))).toEqual({ site: null, period: null, tz: browserTz() });
  });
  it("takes the link's time zone for its days when the browser knows it, else the browser's", () => {
    expect(metersLink(q("from=2026-11-30&to=2026-12-07&tz=America%2FNew_York")).tz).toBe("America/New_York");
    expect(linkTz("Asia/Tokyo")).toBe("Asia/Tokyo");
    expect(linkTz("Mars/Olympus")).toBe(browserTz());
    expect(linkTz(null)).toBe(browserTz());
    const tokyo = linkWindow({ from: "2026-11-30", to: "2026-12-01" }, linkTz("Asia/Tokyo"));
    expect(new Date(tokyo.from).toISOString()).toBe("2026-11-29T15:00:00.000Z");
  });
  it("shows the linked days from local midnight to local midnight (a clock-change week has 167 h)", () => {
    const window = linkWindow({ from: "2026-03-23", to: "2026-03-30" }, "Europe/Berlin");
    expect(new Date(window.from).toISOString()).toBe("2026-03-22T23:00:00.000Z");
    expect(new Date(window.to).toISOString()).toBe("2026-03-29T22:00:00.000Z");
    expect((window.to - window.from) / 3_600_000).toBe(167);
    expect([window.first, window.last]).toEqual(["2026-03-23", "2026-03-29"]);
  });
  it("offers buckets that fit the linked window and keeps a chosen one when it fits", () => {
    expect(bucketsForHours(24)).toEqual(["15m", "1h"]);
    expect(bucketsForHours(30 * 24)).toEqual(["15m", "1h", "1d", "1w"]);
    expect(bucketsForHours(23)).toEqual(["15m", "1h"]);
    expect(fitBucketHours(3 * 24, "1w")).toBe("1h");
    expect(fitBucketHours(3 * 24, "1d")).toBe("1d");
    expect(fitBucketHours(365 * 24, "15m")).toBe("15m");
    expect(fitBucketHours(366 * 24, "15m")).toBe("1d"); // a leap year of quarter-hours is above the limit
    expect(fitBucketHours(400 * 24, "15m")).toBe("1d");
  });
});

describe("prices link", () => {
  const today = "2026-12-06"; // a Sunday: this week's Monday is 2026-11-30
  it("opens without a link on the defaults", () => {
    expect(pricesLink(q(""), today)).toEqual({ day: null, weeks: 5, compare: null });
    expect(pricesLink(q("from=2026-13-01&to=2026-12-08"), today)).toEqual({ day: null, weeks: 5, compare: null });
  });
  it("shows one linked day in the day card", () => {
    expect(pricesLink(q("from=2026-12-07&to=2026-12-08"), today)).toEqual({ day: "2026-12-07", weeks: 5, compare: null });
  });
  it("lays a few days over each other, by day", () => {
    expect(pricesLink(q("from=2026-12-01&to=2026-12-04"), today)).toEqual({ day: "2026-12-01", weeks: 5, compare: { mode: "day", keys: ["2026-12-01", "2026-12-02", "2026-12-03"] } });
  });
  it("lays a week or more over each other by ISO week (at most 6), with history reaching back to it", () => {
    expect(historyStart(today, 5)).toBe("2026-11-02");
    const month = pricesLink(q("from=2026-10-01&to=2026-11-01"), today);
    expect(month.day).toBe("2026-10-01");
    expect(month.weeks).toBe(13);
    expect(month.compare).toEqual({ mode: "week", keys: ["2026-09-28", "2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26"] });
    expect(pricesLink(q("from=2026-01-01&to=2026-12-01"), today).compare?.keys).toHaveLength(6);
    expect(pricesLink(q("from=2024-01-01&to=2024-01-02"), today).weeks).toBe(52);
  });
});

describe("home link", () => {
  it("reads site and plan day; bad values are dropped", () => {
    expect(homeLink(q("site=plant&day=2026-12-07&tz=UTC"))).toEqual({ site: "plant", day: "2026-12-07", tz: "UTC" });
    expect(homeLink(q("day=2026-12-32"))).toEqual({ site: null, day: null, tz: browserTz() });
    expect(pickSite(null, "plant", ["home", "plant"])).toBe("plant");
    expect(pickSite(null, "nowhere", ["home", "plant"])).toBe("home");
    expect(pickSite("home", "plant", ["home", "plant"])).toBe("home");
    expect(pickSite(null, "plant", [])).toBeNull();
  });
  it("plans the linked day from its local midnight", () => {
    const start = planStart("2026-07-15", "Europe/Berlin");
    expect(start).toBe("2026-07-14T22:00:00.000Z");
    expect(Date.parse(start)).toBe(midnight("2026-07-15", "Europe/Berlin"));
    expect(planRequest("plant", start)).toMatchObject({ start, horizon_h: 24, stored: { site: "plant" } });
    expect(planRequest("plant")).not.toHaveProperty("start");
  });
});

describe("playbook link", () => {
  it("takes a scenario UUID, nothing else", () => {
    expect(linkedScenario(q("scenario=0B5D2C1E-8F3A-4C2B-9D1E-7A6B5C4D3E2F"))).toBe("0b5d2c1e-8f3a-4c2b-9d1e-7a6b5c4d3e2f");
    for (const bad of ["", "scenario=", "scenario=42", "scenario=../admin", "scenario=0b5d2c1e-8f3a-4c2b-9d1e-7a6b5c4d3e2"]) expect(linkedScenario(q(bad))).toBeNull();
  });
});
