import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { dateTime } from "../../format";
import { btn, cell, head, invalidFields, muted, row } from "./helpers";
import "./i18n";
import type { ApiKeyList, AuditList } from "./types";
import { Field, Pager } from "./ui";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const LIMIT = 50;

interface Filters {
  key_id: string;
  method: string;
  path_prefix: string;
  status: string;
  ts_from: string;
  ts_to: string;
}

const EMPTY: Filters = { key_id: "", method: "", path_prefix: "", status: "", ts_from: "", ts_to: "" };

/** datetime-local (the reader's local time) -> ISO 8601 with offset, as the API wants it. */
function iso(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? local : date.toISOString();
}

export function Audit() {
  const { t } = useTranslation();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [applied, setApplied] = useState<Filters>(EMPTY);
  const [offset, setOffset] = useState(0);
  const keys = useQuery({ queryKey: ["admin-keys"], queryFn: ({ signal }) => api<ApiKeyList>("/admin/keys", { signal }) });
  const names = new Map((keys.data?.items ?? []).map((k) => [k.key_id, k.name]));
  const audit = useQuery({
    queryKey: ["audit", applied, offset],
    queryFn: ({ signal }) =>
      api<AuditList>("/admin/audit", {
        signal,
        query: {
          key_id: applied.key_id || undefined,
          method: applied.method || undefined,
          path_prefix: applied.path_prefix || undefined,
          status: applied.status || undefined,
          ts_from: iso(applied.ts_from),
          ts_to: iso(applied.ts_to),
          limit: LIMIT,
          offset,
        },
      }),
    placeholderData: keepPreviousData,
  });
  const bad = invalidFields(audit.error);
  const set = (name: keyof Filters) => (e: { target: { value: string } }) => setDraft({ ...draft, [name]: e.target.value });
  function apply(event: FormEvent) {
    event.preventDefault();
    setOffset(0);
    setApplied(draft);
  }
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-semibold">{t("console.audit.title")}</h1>
      <p className={muted}>{t("console.audit.intro")}</p>
      <Card title={t("console.audit.filters")}>
        <form onSubmit={apply} className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3" aria-label={t("console.audit.filters")}>
          <Field id="audit-key" label={t("console.audit.key")} invalid={bad.has("key_id")}>
            {(p) => (
              <select {...p} value={draft.key_id} onChange={set("key_id")}>
                <option value="">{t("console.audit.anyKey")}</option>
                {(keys.data?.items ?? []).map((k) => (
                  <option key={k.key_id} value={k.key_id}>
                    {k.name} ({k.prefix}…)
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field id="audit-method" label={t("console.audit.method")} invalid={bad.has("method")}>
            {(p) => (
              <select {...p} value={draft.method} onChange={set("method")}>
                <option value="">{t("console.audit.anyMethod")}</option>
                {METHODS.map((m) => (
                  <option key={m}>{m}</option>
                ))}
              </select>
            )}
          </Field>
          <Field id="audit-path" label={t("console.audit.path")} invalid={bad.has("path_prefix")}>
            {(p) => <input {...p} value={draft.path_prefix} onChange={set("path_prefix")} placeholder="/admin" />}
          </Field>
          <Field id="audit-status" label={t("console.audit.status")} invalid={bad.has("status")}>
            {(p) => <input {...p} type="number" inputMode="numeric" value={draft.status} onChange={set("status")} placeholder="403" />}
          </Field>
          <Field id="audit-from" label={t("console.audit.from")} invalid={bad.has("ts_from")}>
            {(p) => <input {...p} type="datetime-local" value={draft.ts_from} onChange={set("ts_from")} />}
          </Field>
          <Field id="audit-to" label={t("console.audit.to")} invalid={bad.has("ts_to")}>
            {(p) => <input {...p} type="datetime-local" value={draft.ts_to} onChange={set("ts_to")} />}
          </Field>
          <div className="flex gap-2 sm:col-span-2 lg:col-span-3">
            <button type="submit" className={btn.primary}>
              {t("console.audit.apply")}
            </button>
            <button
              type="button"
              className={btn.secondary}
              onClick={() => {
                setDraft(EMPTY);
                setApplied(EMPTY);
                setOffset(0);
              }}
            >
              {t("console.audit.reset")}
            </button>
          </div>
        </form>
        {audit.isError && (
          <div className="mt-3">
            <ErrorNote error={audit.error} />
          </div>
        )}
      </Card>
      <Card title={t("console.audit.entries")}>
        {audit.isPending && <Loading />}
        {audit.data && audit.data.items.length === 0 && <p className={muted}>{t("console.ui.none")}</p>}
        {audit.data && audit.data.items.length > 0 && (
          <div className="overflow-x-auto">
            <table className="w-full text-left text-sm" data-testid="audit">
              <thead className={head}>
                <tr>
                  <th className={cell}>{t("console.audit.time")}</th>
                  <th className={cell}>{t("console.audit.key")}</th>
                  <th className={cell}>{t("console.audit.role")}</th>
                  <th className={cell}>{t("console.audit.method")}</th>
                  <th className={cell}>{t("console.audit.pathColumn")}</th>
                  <th className={cell}>{t("console.audit.status")}</th>
                  <th className={cell}>{t("console.audit.request")}</th>
                </tr>
              </thead>
              <tbody>
                {audit.data.items.map((entry) => (
                  <tr key={entry.audit_id} className={row}>
                    <td className={`${cell} whitespace-nowrap`}>{dateTime(entry.ts)}</td>
                    <td className={cell}>{entry.key_id ? (names.get(entry.key_id) ?? <span className="font-mono text-xs">{entry.key_id.slice(0, 8)}…</span>) : "–"}</td>
                    <td className={cell}>{entry.role ? t(`roles.${entry.role}`, { defaultValue: entry.role }) : "–"}</td>
                    <td className={`${cell} font-mono text-xs`}>{entry.method}</td>
                    <td className={`${cell} break-all font-mono text-xs`}>{entry.path}</td>
                    <td className={`${cell} tabular-nums ${entry.status >= 400 ? "font-semibold text-red-700 dark:text-red-300" : ""}`}>{entry.status}</td>
                    <td className={`${cell} break-all font-mono text-xs`}>{entry.request_id}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {audit.data && <Pager offset={offset} limit={LIMIT} total={audit.data.total} onChange={setOffset} />}
      </Card>
    </div>
  );
}
