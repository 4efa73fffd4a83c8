import { useTranslation } from "react-i18next";
import { ApiError, UnreachableError } from "../api/client";

/** A failed request, in the API's own words (its messages are written for people). */
export function ErrorNote({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (error instanceof UnreachableError) {
    // The banner explains; here only where the data would be.
    return <p className="text-sm text-slate-600 dark:text-slate-400">{t("common.noAnswer")}</p>;
  }
  const message = error instanceof ApiError ? error.message : error instanceof Error ? error.message : String(error);
  const status = error instanceof ApiError ? ` (${error.status})` : "";
  return (
    <p role="alert" className="rounded border border-red-400 bg-red-50 px-3 py-2 text-sm text-red-900 dark:border-red-500 dark:bg-red-950 dark:text-red-100">
      <span className="font-semibold">
        {t("common.error")}
        {status}:
      </span>{" "}
      {message}
    </p>
  );
}
