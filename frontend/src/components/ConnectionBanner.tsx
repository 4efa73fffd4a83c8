import { useQueryClient } from "@tanstack/react-query";
import { useSyncExternalStore } from "react";
import { useTranslation } from "react-i18next";
import { getConnection, subscribeConnection } from "../api/connection";

/** A banner over every page while the API does not answer or answers 503; never a blank page. */
export function ConnectionBanner() {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const connection = useSyncExternalStore(subscribeConnection, getConnection);
  if (connection.state === "ok") return null;
  const text =
    connection.state === "unreachable"
      ? t("banner.unreachable")
      : t("banner.unavailable", { message: connection.message });
  return (
    <div
      role="alert"
      className="flex flex-wrap items-center gap-3 border-b border-amber-600 bg-amber-100 px-4 py-2 text-sm text-amber-950 dark:bg-amber-900 dark:text-amber-50"
    >
      <span className="font-semibold" aria-hidden>
        ⚠
      </span>
      <span className="flex-1">{text}</span>
      <button
        type="button"
        className="rounded border border-amber-700 px-2 py-0.5 hover:bg-amber-200 dark:border-amber-300 dark:hover:bg-amber-800"
        onClick={() => void queryClient.refetchQueries({ type: "active" })}
      >
        {t("banner.retry")}
      </button>
    </div>
  );
}
