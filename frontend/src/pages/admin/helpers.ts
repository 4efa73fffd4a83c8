import { ApiError } from "../../api/client";

/** Fields the API names in `error.details` (`{field}` or a list of them; "body.interval_s" -> "interval_s"). */
export function invalidFields(error: unknown): Set<string> {
  const out = new Set<string>();
  if (!(error instanceof ApiError)) return out;
  const details = Array.isArray(error.details) ? error.details : [error.details];
  for (const detail of details) {
    const field = (detail as { field?: unknown } | null)?.field;
    if (typeof field === "string") out.add(field.replace(/^(body|query|path)\./, "").split(/[.[]/)[0] ?? field);
  }
  return out;
}

export function bytes(size: number | null | undefined): string {
  if (size === null || size === undefined) return "–";
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} kB`;
  if (size < 1024 * 1024 * 1024) return `${(size / 1024 / 1024).toFixed(1)} MB`;
  return `${(size / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

export const btn = {
  primary: "rounded bg-sky-700 px-3 py-1.5 text-sm font-semibold text-white hover:bg-sky-800 disabled:opacity-60",
  secondary:
    "rounded border border-slate-400 px-3 py-1.5 text-sm hover:bg-slate-100 disabled:opacity-60 dark:border-slate-600 dark:hover:bg-slate-800",
  danger:
    "rounded border border-red-600 px-3 py-1.5 text-sm text-red-800 hover:bg-red-50 disabled:opacity-60 dark:border-red-400 dark:text-red-200 dark:hover:bg-red-950",
  dangerSolid: "rounded bg-red-700 px-3 py-1.5 text-sm font-semibold text-white hover:bg-red-800 disabled:opacity-60",
};

export const input =
  "w-full rounded border border-slate-400 bg-white px-2 py-1.5 text-sm dark:border-slate-600 dark:bg-slate-950";
export const invalidInput = "border-red-600 ring-2 ring-red-500 dark:border-red-400";
export const cell = "py-1.5 pr-3 align-top";
export const head = "text-xs uppercase text-slate-600 dark:text-slate-400";
export const row = "border-t border-slate-200 dark:border-slate-800";
export const muted = "text-sm text-slate-600 dark:text-slate-400";
