import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { dateTime, withUnit } from "../../format";
import { btn, bytes, cell, head, muted, row } from "./helpers";
import "./i18n";
import type { BackupList, BackupRead, BackupVerified } from "./types";
import { ConfirmButton, Notice } from "./ui";

function BackupRow({ backup, onResult }: { backup: BackupRead; onResult: (note: string | null, error: unknown) => void }) {
  const { t } = useTranslation();
  const verify = useMutation({
    mutationFn: () => api<BackupVerified>(`/admin/backups/${encodeURIComponent(backup.name)}/verify`),
    onSuccess: (v) => onResult(v.ok ? t("console.backups.verifyOk", { name: v.name, files: v.files_checked }) : t("console.backups.verifyBad", { name: v.name, problem: v.problem ?? "" }), null),
    onError: (error) => onResult(null, error),
  });
  const restore = useMutation({
    mutationFn: () => api<unknown>(`/admin/backups/${encodeURIComponent(backup.name)}/restore`, { method: "POST" }),
    onSuccess: () => onResult(null, null),
    onError: (error) => onResult(null, error),
  });
  return (
    <tr className={row}>
      <td className={`${cell} break-all font-mono text-xs font-semibold`}>{backup.name}</td>
      <td className={`${cell} whitespace-nowrap`}>{dateTime(backup.created_at)}</td>
      <td className={cell}>{backup.app_version}</td>
      <td className={cell}>{backup.database_kind}</td>
      <td className={`${cell} whitespace-nowrap tabular-nums`}>{bytes(backup.size_bytes)}</td>
      <td className={`${cell} tabular-nums`}>{backup.vectors.toLocaleString()}</td>
      <td className={`${cell} tabular-nums`}>{backup.files.toLocaleString()}</td>
      <td className={`${cell} whitespace-nowrap tabular-nums`}>{withUnit(backup.seconds, "s", 1)}</td>
      <td className={cell}>
        <div className="flex flex-wrap gap-2">
          <button type="button" className={btn.secondary} disabled={verify.isPending} onClick={() => verify.mutate()}>
            {t("console.backups.verify")}
          </button>
          <ConfirmButton
            label={t("console.backups.restore")}
            title={t("console.backups.restoreTitle", { name: backup.name })}
            body={t("console.backups.restoreBody")}
            disabled={restore.isPending}
            onConfirm={() => restore.mutate()}
          />
        </div>
      </td>
    </tr>
  );
}

export function Backups() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const backups = useQuery({ queryKey: ["backups"], queryFn: ({ signal }) => api<BackupList>("/admin/backups", { signal }) });
  const create = useMutation({
    mutationFn: () => api<BackupRead>("/admin/backups", { method: "POST" }),
    onMutate: () => {
      setNote(null);
      setError(null);
    },
    onSuccess: (b) => {
      setNote(t("console.backups.created", { name: b.name }));
      void client.invalidateQueries({ queryKey: ["backups"] });
    },
    onError: (e) => setError(e),
  });
  const report = (n: string | null, e: unknown) => {
    setNote(n);
    setError(e);
  };
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-semibold">{t("console.backups.title")}</h1>
      <p className={muted}>{t("console.backups.intro")}</p>
      <div className="flex flex-wrap items-center gap-3">
        <button type="button" className={btn.primary} disabled={create.isPending} onClick={() => create.mutate()}>
          {t("console.backups.create")}
        </button>
        {create.isPending && <span className={muted} aria-live="polite">{t("console.backups.creating")}</span>}
      </div>
      <div className="space-y-2" aria-live="polite">
        {note && <Notice>{note}</Notice>}
        {error !== null && <ErrorNote error={error} />}
      </div>
      <Card title={t("console.backups.title")}>
        {backups.isPending && <Loading />}
        {backups.isError && <ErrorNote error={backups.error} />}
        {backups.isSuccess && backups.data.items.length === 0 && <p className={muted}>{t("console.ui.none")}</p>}
        {backups.isSuccess && backups.data.items.length > 0 && (
          <div className="overflow-x-auto">
            <table className="w-full text-left text-sm" data-testid="backups">
              <thead className={head}>
                <tr>
                  <th className={cell}>{t("console.backups.name")}</th>
                  <th className={cell}>{t("console.backups.createdAt")}</th>
                  <th className={cell}>{t("console.backups.version")}</th>
                  <th className={cell}>{t("console.backups.database")}</th>
                  <th className={cell}>{t("console.backups.size")}</th>
                  <th className={cell}>{t("console.backups.vectors")}</th>
                  <th className={cell}>{t("console.backups.files")}</th>
                  <th className={cell}>{t("console.backups.took")}</th>
                  <th className={cell}>
                    <span className="sr-only">{t("console.ui.actions")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {backups.data.items.map((b) => (
                  <BackupRow key={b.name} backup={b} onResult={report} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
