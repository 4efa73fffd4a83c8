// Reading Luna's links (/?site=…&day=YYYY-MM-DD: the plan card for that day) as the page's first state.
// Pure functions (tested in tests/link-params.test.ts). Missing or invalid values: the page's defaults.
import { midnight } from "../energy/time";
import { linkTz, parseDay } from "../../links";

export interface HomeLink {
  /** the linked site, used once the meters' sites are loaded and only when it is one of them */
  site: string | null;
  /** the plan card's day (local), else the next 24 h */
  day: string | null;
  /** the zone of that day (the link's `tz`, else the browser's) */
  tz: string;
}

export function homeLink(params: URLSearchParams): HomeLink {
  const site = params.get("site")?.trim() || null;
  return { site: site && site.length <= 200 ? site : null, day: parseDay(params.get("day")), tz: linkTz(params.get("tz")) };
}

/** The site shown: the user's choice, else the linked site when it exists, else the first site. */
export function pickSite(chosen: string | null, linked: string | null, sites: string[]): string | null {
  if (chosen) return chosen;
  if (linked && sites.includes(linked)) return linked;
  return sites[0] ?? null;
}

/** The plan's first step for a day: its local midnight in `tz`, ISO 8601 (UTC) as the API takes it. */
export function planStart(day: string, tz: string): string {
  return new Date(midnight(day, tz)).toISOString();
}
