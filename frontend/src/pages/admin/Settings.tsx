import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { dateTime } from "../../format";
import { cell, head, input, muted, row } from "./helpers";
import "./i18n";
import { Learning } from "./Learning";
import type { PrivacyRead } from "./types";

/** What the server puts in place of a secret (admin/service.py REDACTED). */
export const REDACTED = "**********";

function Value({ value }: { value: unknown }) {
  const { t } = useTranslation();
  if (value === null || value === undefined || value === "") return <span className="text-slate-600 dark:text-slate-400">{t("console.settings.empty")}</span>;
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (text.includes(REDACTED)) {
    return (
      <span>
        <span className="break-all font-mono text-xs">{text}</span>{" "}
        <span className="whitespace-nowrap rounded bg-amber-100 px-1.5 py-0.5 text-xs font-semibold text-amber-950 dark:bg-amber-900 dark:text-amber-50" title={t("console.settings.redactedLabel")}>
          {t("console.settings.redacted")}
        </span>
      </span>
    );
  }
  return <span className="break-all font-mono text-xs">{text}</span>;
}

function Privacy() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const privacy = useQuery({ queryKey: ["privacy"], queryFn: ({ signal }) => api<PrivacyRead>("/admin/privacy", { signal }) });
  const update = useMutation({
    mutationFn: (on: boolean) => api<PrivacyRead>("/admin/privacy", { method: "PUT", body: { flag_send_aggregates: on } }),
    onSuccess: (data) => client.setQueryData(["privacy"], data),
  });
  return (
    <Card title={t("console.settings.privacy")}>
      {privacy.isPending && <Loading />}
      {privacy.isError && <ErrorNote error={privacy.error} />}
      {privacy.isSuccess && (
        <div className="space-y-2 text-sm">
          <div className="flex items-center gap-3">
            <button
              type="button"
              role="switch"
              id="privacy-switch"
              aria-checked={privacy.data.flag_send_aggregates}
              aria-labelledby="privacy-label"
              disabled={update.isPending}
              onClick={() => update.mutate(!privacy.data.flag_send_aggregates)}
              className={`relative inline-flex h-6 w-11 shrink-0 items-center rounded-full border-2 border-transparent transition ${privacy.data.flag_send_aggregates ? "bg-sky-700" : "bg-slate-500"}`}
            >
              <span className={`inline-block h-5 w-5 rounded-full bg-white shadow transition ${privacy.data.flag_send_aggregates ? "translate-x-5" : "translate-x-0"}`} />
            </button>
            <span id="privacy-label" className="font-medium">
              {t("console.settings.privacySwitch")}
            </span>
            <span data-testid="privacy-state" className="font-semibold">
              {privacy.data.flag_send_aggregates ? t("console.settings.on") : t("console.settings.off")}
            </span>
          </div>
          <p className={muted}>{t("console.settings.privacyHelp")}</p>
          <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1">
            <dt className="text-slate-600 dark:text-slate-400">{t("console.settings.fingerprint")}</dt>
            <dd className="break-all font-mono text-xs">{privacy.data.instance_fingerprint}</dd>
            <dt className="text-slate-600 dark:text-slate-400">{t("console.settings.updated")}</dt>
            <dd>{dateTime(privacy.data.updated_at)}</dd>
          </dl>
          {update.isError && <ErrorNote error={update.error} />}
        </div>
      )}
    </Card>
  );
}

export function Settings() {
  const { t } = useTranslation();
  const [filter, setFilter] = useState("");
  const settings = useQuery({ queryKey: ["admin-settings"], queryFn: ({ signal }) => api<Record<string, unknown>>("/admin/settings", { signal }) });
  const entries = Object.entries(settings.data ?? {})
    .filter(([name]) => name.toLowerCase().includes(filter.trim().toLowerCase()))
    .sort(([a], [b]) => a.localeCompare(b));
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-semibold">{t("console.settings.title")}</h1>
      <p className={muted}>{t("console.settings.intro")}</p>
      <Privacy />
      <Learning />
      <Card title={t("console.settings.title")}>
        <div className="mb-3 max-w-sm">
          <label htmlFor="settings-filter" className="mb-1 block text-sm font-medium">
            {t("console.settings.filter")}
          </label>
          <input id="settings-filter" type="search" className={input} value={filter} onChange={(e) => setFilter(e.target.value)} />
        </div>
        {settings.isPending && <Loading />}
        {settings.isError && <ErrorNote error={settings.error} />}
        {settings.isSuccess && (
          <div className="overflow-x-auto">
            <table className="w-full table-fixed text-left text-sm" data-testid="settings">
              <thead className={head}>
                <tr>
                  <th className={`${cell} w-1/3`}>{t("console.settings.name")}</th>
                  <th className={cell}>{t("console.settings.value")}</th>
                </tr>
              </thead>
              <tbody>
                {entries.map(([name, value]) => (
                  <tr key={name} className={row}>
                    <td className={`${cell} break-all font-mono text-xs font-semibold`}>{name}</td>
                    <td className={cell}>
                      <Value value={value} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
