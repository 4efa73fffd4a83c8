import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import { allows } from "../../api/roles";
import type { Role } from "../../api/types";
import { useAuth } from "../../auth/context";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { dateTime } from "../../format";
import { btn, cell, invalidFields, muted, row } from "./helpers";
import "./i18n";
import type { ApiKeyCreated, ApiKeyList, ApiKeyRead } from "./types";
import { ConfirmButton, Dialog, Field, Table } from "./ui";

const ROLES: Role[] = ["viewer", "analyst", "admin"];

/** The new key's token, shown once: copy it, then it is gone from the page for good. */
export function TokenDialog({ created, onClose }: { created: ApiKeyCreated; onClose: () => void }) {
  const { t } = useTranslation();
  const [copy, setCopy] = useState<"idle" | "done" | "failed">("idle");
  async function copyToken() {
    try {
      await navigator.clipboard.writeText(created.token);
      setCopy("done");
    } catch {
      setCopy("failed");
    }
  }
  return (
    <Dialog
      title={t("console.keys.tokenTitle", { name: created.name })}
      onClose={onClose}
      actions={
        <button type="button" className={btn.primary} onClick={onClose}>
          {t("console.keys.stored")}
        </button>
      }
    >
      <p role="alert" className="rounded border border-amber-500 bg-amber-50 px-3 py-2 font-semibold text-amber-950 dark:bg-amber-950 dark:text-amber-100">
        {t("console.keys.tokenWarning")}
      </p>
      <p className="font-medium">
        {t("console.keys.tokenLabel")} ({t(`roles.${created.role}`)})
      </p>
      <div className="space-y-2">
        <code
          id="new-token"
          data-testid="new-token"
          tabIndex={0}
          className="block select-all rounded border border-slate-400 bg-slate-50 px-2 py-1.5 font-mono text-sm [overflow-wrap:anywhere] dark:border-slate-600 dark:bg-slate-950"
        >
          {created.token}
        </code>
        <button type="button" data-autofocus className={btn.secondary} onClick={() => void copyToken()}>
          {copy === "done" ? t("console.keys.copied") : t("console.keys.copy")}
        </button>
      </div>
      {copy === "failed" && <p className="text-red-700 dark:text-red-300">{t("console.keys.copyFailed")}</p>}
    </Dialog>
  );
}

function CreateKey({ onCreated }: { onCreated: (key: ApiKeyCreated) => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const create = useMutation({
    mutationFn: () => api<ApiKeyCreated>("/admin/keys", { method: "POST", body: { name, role } }),
    onSuccess: (created) => {
      setName("");
      void client.invalidateQueries({ queryKey: ["admin-keys"] });
      onCreated(created);
    },
  });
  const bad = invalidFields(create.error);
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }
  return (
    <Card title={t("console.keys.create")}>
      <form onSubmit={submit} className="grid items-end gap-3 sm:grid-cols-[1fr_12rem_auto]" aria-label={t("console.keys.create")}>
        <Field id="key-name" label={t("console.keys.name")} invalid={bad.has("name")}>
          {(props) => <input {...props} value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />}
        </Field>
        <Field id="key-role" label={t("console.keys.role")} invalid={bad.has("role")}>
          {(props) => (
            <select {...props} value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {t(`roles.${r}`)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" className={`${btn.primary} ${bad.size ? "mb-5" : ""}`} disabled={create.isPending}>
          {create.isPending ? t("console.ui.saving") : t("console.keys.submit")}
        </button>
      </form>
      {create.isError && (
        <div className="mt-3">
          <ErrorNote error={create.error} />
        </div>
      )}
    </Card>
  );
}

function KeyRow({ item, canWrite, own }: { item: ApiKeyRead; canWrite: boolean; own: boolean }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const revoke = useMutation({
    mutationFn: () => api<ApiKeyRead>(`/admin/keys/${item.key_id}`, { method: "DELETE" }),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["admin-keys"] }),
  });
  return (
    <tr className={row} data-testid={`key-${item.name}`}>
      <td className={`${cell} font-medium`}>{item.name}</td>
      <td className={cell}>{t(`roles.${item.role}`)}</td>
      <td className={`${cell} font-mono text-xs`}>{item.prefix}…</td>
      <td className={cell}>{dateTime(item.created_at)}</td>
      <td className={cell}>{item.last_used_at ? dateTime(item.last_used_at) : t("console.keys.never")}</td>
      <td className={cell}>
        {own && <span className="mr-2 text-xs font-semibold">{t("console.keys.own")} ·</span>}
        {item.revoked_at ? (
          <span className="text-slate-600 dark:text-slate-400">{t("console.keys.revokedAt", { time: dateTime(item.revoked_at) })}</span>
        ) : (
          <span className="text-emerald-700 dark:text-emerald-400">● {t("console.keys.active")}</span>
        )}
      </td>
      <td className={cell}>
        {canWrite && !item.revoked_at && !own && (
          <ConfirmButton
            label={t("console.keys.revoke")}
            title={t("console.keys.revokeTitle", { name: item.name })}
            body={t("console.keys.revokeBody")}
            disabled={revoke.isPending}
            onConfirm={() => revoke.mutate()}
          />
        )}
        {revoke.isError && (
          <div className="mt-1">
            <ErrorNote error={revoke.error} />
          </div>
        )}
      </td>
    </tr>
  );
}

export function Keys() {
  const { t } = useTranslation();
  const { caller } = useAuth();
  const canWrite = allows(caller?.role, "admin");
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const keys = useQuery({ queryKey: ["admin-keys"], queryFn: ({ signal }) => api<ApiKeyList>("/admin/keys", { signal }) });
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-semibold">{t("console.keys.title")}</h1>
      <p className={muted}>{t("console.keys.intro")}</p>
      {canWrite && <CreateKey onCreated={setCreated} />}
      {created && <TokenDialog created={created} onClose={() => setCreated(null)} />}
      <Card title={t("console.keys.list")}>
        {keys.isPending && <Loading />}
        {keys.isError && <ErrorNote error={keys.error} />}
        {keys.isSuccess && (
          <Table columns={["name", "role", "prefix", "created", "lastUsed", "state"].map((key) => t(`console.keys.${key}`))}>
            {keys.data.items.map((item) => (
              <KeyRow key={item.key_id} item={item} canWrite={canWrite} own={item.key_id === caller?.key_id} />
            ))}
          </Table>
        )}
      </Card>
    </div>
  );
}
