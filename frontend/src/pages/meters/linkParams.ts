// Reading Luna's links (/smart-meters?site=…&from=YYYY-MM-DD&to=YYYY-MM-DD&tz=…) as the page's first state
// (the parsing every page shares is in src/links.ts). Pure functions (tested in tests/link-params.test.ts).
import { addDays, midnight } from "../energy/time";
import { linkTz, parsePeriod, type DayPeriod } from "../../links";

/** The linked period as an absolute window [from, to) in epoch ms, local midnights in `tz`. */
export interface LinkWindow {
  from: number;
  to: number;
  /** the first and the last day shown ("YYYY-MM-DD") */
  first: string;
  last: string;
}

export function linkWindow(period: DayPeriod, tz: string): LinkWindow {
  return { from: midnight(period.from, tz), to: midnight(period.to, tz), first: period.from, last: addDays(period.to, -1) };
}

export interface MetersLink {
  /** the linked site, checked against the meters' sites once they are loaded (siteScope) */
  site: string | null;
  period: DayPeriod | null;
  /** the zone of the period's days (the link's `tz`, else the browser's) */
  tz: string;
}

/** What a /smart-meters link asks for. */
export function metersLink(params: URLSearchParams): MetersLink {
  const site = params.get("site")?.trim() || null;
  return { site: site && site.length <= 200 ? site : null, period: parsePeriod(params.get("from"), params.get("to")), tz: linkTz(params.get("tz")) };
}

/** The scope select's value: the user's choice, else the linked site when it exists, else the first site. */
export function siteScope(chosen: string | null, linkedSite: string | null, sites: string[]): string {
  if (chosen) return chosen;
  if (linkedSite && sites.includes(linkedSite)) return `site:${linkedSite}`;
  return sites[0] ? `site:${sites[0]}` : "";
}
