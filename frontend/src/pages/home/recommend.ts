// Helpers of Home's recommendation card (kept apart from the component for fast refresh and tests).
import type { ItemKind } from "../../api/telemetry";
import type { RecommendItem, RecommendRead } from "../../api/types";

/** `date` as ISO 8601 with the browser's offset ("2026-12-06T18:00:00+01:00"): the API's local time. */
export function localIso(date: Date): string {
  const pad = (n: number) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(offset / 60)}:${pad(offset % 60)}`
  );
}

/** What a signal on `item` is about: an action as "<recommendation>/<arm>", which the API credits to that
 * action (recommend.service.apply_reward: one reward per recommendation and action, the latest); a
 * document under its own id (stored, no reward). */
export function itemRef(recommendation: RecommendRead, item: RecommendItem): { item_kind: ItemKind; item_id: string } {
  if (item.kind === "document") return { item_kind: "document", item_id: item.id };
  return { item_kind: "recommendation", item_id: `${recommendation.recommendation_id}/${item.id}` };
}

/** The i18n key and values of an item's reason (`reason_code` + `reason_params` from the API): the page
 * words it in the user's language; a language without the key shows the API's English `reason`. Numbers
 * are formatted by the caller's `num` (locale decimals). */
export function reasonKey(item: RecommendItem, num: (value: number, digits: number) => string): { key: string; values: Record<string, string | number> } {
  const p = item.reason_params;
  const values: Record<string, string | number> = {
    soc: p.soc_pct == null ? "–" : num(p.soc_pct, 0),
    at: p.at_local ?? "",
    mean: p.mean_rating == null ? "–" : num(p.mean_rating, 2),
    similarity: p.similarity == null ? "–" : num(p.similarity, 2),
    snippet: p.snippet ?? "",
  };
  // i18next plurals need `count`: alerts and ratings are the counted things.
  if (item.reason_code === "open_alerts") values.count = p.open_alerts ?? 0;
  if (item.reason_code === "rated") values.count = p.ratings ?? 0;
  return { key: `homeRecommend.reasons.${item.reason_code}`, values };
}
