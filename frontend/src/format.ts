// Numbers always with their unit, in the reader's language.
import i18n from "./i18n";

function locale(): string {
  return i18n.language?.startsWith("de") ? "de-DE" : "en-GB";
}

export function num(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);
}

/** A value with its unit ("1.234,5 kWh"); "–" without a value (never a bare unit). */
export function withUnit(value: number | null | undefined, unit: string, digits = 1): string {
  const text = num(value, digits);
  return text === "–" ? text : `${text} ${unit}`;
}

/** Energy in kWh, switching to MWh past 10,000 kWh so large sites stay readable. */
export function energy(kwh: number | null | undefined): string {
  if (kwh !== null && kwh !== undefined && Math.abs(kwh) >= 10_000) return withUnit(kwh / 1000, "MWh", 2);
  return withUnit(kwh, "kWh", 1);
}

export function percent(share: number | null | undefined): string {
  return share === null || share === undefined ? "–" : withUnit(share * 100, "%", 1);
}

export function euro(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  return new Intl.NumberFormat(locale(), { style: "currency", currency: "EUR" }).format(value);
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "–";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

export function time(iso: string | null | undefined): string {
  if (!iso) return "–";
  return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
}

export function duration(seconds: number): string {
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${minutes} min`;
  return `${minutes} min`;
}
