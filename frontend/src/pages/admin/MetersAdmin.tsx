import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import { allows } from "../../api/roles";
import { useAuth } from "../../auth/context";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { btn, cell, head, invalidFields, muted, row } from "./helpers";
import "./i18n";
import type { MeterKind, MeterList, MeterRead } from "./types";
import { ConfirmButton, Field, Notice } from "./ui";

const KINDS: MeterKind[] = ["consumption", "production", "bidirectional", "battery"];

interface Draft {
  meter_id: string;
  site: string;
  kind: MeterKind;
  timezone: string;
  interval_s: string;
  lat: string;
  lon: string;
}

const NEW: Draft = { meter_id: "", site: "default", kind: "consumption", timezone: "Europe/Berlin", interval_s: "", lat: "", lon: "" };

const text = (v: number | null | undefined) => (v === null || v === undefined ? "" : String(v));
function draftOf(m: MeterRead): Draft {
  return { meter_id: m.meter_id, site: m.site ?? "", kind: m.kind ?? "consumption", timezone: m.timezone ?? "", interval_s: text(m.interval_s), lat: text(m.lat), lon: text(m.lon) };
}
/** Empty -> null (the API's "not set"); anything else as typed, as a number when it is one (the API judges). */
function number(v: string): number | string | null {
  if (v.trim() === "") return null;
  const n = Number(v);
  return Number.isNaN(n) ? v : n;
}

/** Create (editing === null) or edit a meter; the draft stays as typed when the API refuses it. */
export function MeterForm({ editing, onSaved, onCancel }: { editing: MeterRead | null; onSaved: (id: string) => void; onCancel: () => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [draft, setDraft] = useState<Draft>(editing ? draftOf(editing) : NEW);
  const save = useMutation({
    mutationFn: () => {
      const body = { site: draft.site, kind: draft.kind, timezone: draft.timezone, interval_s: number(draft.interval_s), lat: number(draft.lat), lon: number(draft.lon) };
      return editing
        ? api<MeterRead>(`/meters/${encodeURIComponent(editing.meter_id)}`, { method: "PATCH", body })
        : api<MeterRead>("/meters", { method: "POST", body: { meter_id: draft.meter_id, ...body } });
    },
    onSuccess: (m) => {
      void client.invalidateQueries({ queryKey: ["admin-meters"] });
      void client.invalidateQueries({ queryKey: ["meters"] });
      onSaved(m.meter_id);
    },
  });
  const bad = invalidFields(save.error);
  const set = (name: keyof Draft) => (e: { target: { value: string } }) => setDraft({ ...draft, [name]: e.target.value });
  function submit(event: FormEvent) {
    event.preventDefault();
    save.mutate();
  }
  const title = editing ? t("console.meters.edit", { id: editing.meter_id }) : t("console.meters.create");
  return (
    <Card title={title}>
      <form onSubmit={submit} aria-label={title} className="space-y-3" data-testid="meter-form" noValidate>
        <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
          {!editing && (
            <Field id="meter-id" label={t("console.meters.id")} invalid={bad.has("meter_id")}>
              {(p) => <input {...p} value={draft.meter_id} onChange={set("meter_id")} autoComplete="off" />}
            </Field>
          )}
          <Field id="meter-site" label={t("console.meters.site")} invalid={bad.has("site")}>
            {(p) => <input {...p} value={draft.site} onChange={set("site")} />}
          </Field>
          <Field id="meter-kind" label={t("console.meters.kind")} invalid={bad.has("kind")}>
            {(p) => (
              <select {...p} value={draft.kind} onChange={set("kind")}>
                {KINDS.map((k) => (
                  <option key={k} value={k}>
                    {t(`console.meters.kinds.${k}`)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field id="meter-timezone" label={t("console.meters.timezone")} invalid={bad.has("timezone")}>
            {(p) => <input {...p} value={draft.timezone} onChange={set("timezone")} placeholder="Europe/Berlin" />}
          </Field>
          <Field id="meter-interval" label={t("console.meters.interval")} invalid={bad.has("interval_s")} help={t("console.meters.intervalHelp")}>
            {(p) => <input {...p} type="number" inputMode="numeric" value={draft.interval_s} onChange={set("interval_s")} />}
          </Field>
          <Field id="meter-lat" label={t("console.meters.lat")} invalid={bad.has("lat")}>
            {(p) => <input {...p} type="number" step="any" value={draft.lat} onChange={set("lat")} />}
          </Field>
          <Field id="meter-lon" label={t("console.meters.lon")} invalid={bad.has("lon")}>
            {(p) => <input {...p} type="number" step="any" value={draft.lon} onChange={set("lon")} />}
          </Field>
        </div>
        {save.isError && <ErrorNote error={save.error} />}
        <div className="flex gap-2">
          <button type="submit" className={btn.primary} disabled={save.isPending}>
            {save.isPending ? t("console.ui.saving") : editing ? t("console.meters.save") : t("console.meters.add")}
          </button>
          <button type="button" className={btn.secondary} onClick={onCancel}>
            {t("console.ui.cancel")}
          </button>
        </div>
      </form>
    </Card>
  );
}

function MeterRow({ meter, canEdit, canDelete, onEdit, onError }: { meter: MeterRead; canEdit: boolean; canDelete: boolean; onEdit: () => void; onError: (e: unknown) => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const remove = useMutation({
    mutationFn: () =>
      api<unknown>(`/meters/${encodeURIComponent(meter.meter_id)}`, { method: "DELETE" }).catch((error: unknown) => {
        if (error instanceof SyntaxError) return null; // 204: no body
        throw error;
      }),
    onSuccess: () => {
      onError(null);
      void client.invalidateQueries({ queryKey: ["admin-meters"] });
      void client.invalidateQueries({ queryKey: ["meters"] });
    },
    onError,
  });
  return (
    <tr className={row} data-testid={`meter-${meter.meter_id}`}>
      <td className={`${cell} break-all font-mono text-xs font-semibold`}>{meter.meter_id}</td>
      <td className={cell}>{meter.site}</td>
      <td className={cell}>{meter.kind ? t(`console.meters.kinds.${meter.kind}`) : "–"}</td>
      <td className={cell}>{meter.timezone}</td>
      <td className={`${cell} tabular-nums`}>{meter.interval_s ? `${meter.interval_s} s` : "–"}</td>
      <td className={`${cell} whitespace-nowrap tabular-nums text-xs`}>{meter.lat !== null && meter.lat !== undefined ? `${meter.lat}°, ${meter.lon ?? "–"}°` : "–"}</td>
      <td className={cell}>
        <div className="flex flex-wrap gap-2">
          {canEdit && (
            <button type="button" className={btn.secondary} onClick={onEdit} aria-label={`${t("console.meters.editAction")} ${meter.meter_id}`}>
              {t("console.meters.editAction")}
            </button>
          )}
          {canDelete && (
            <ConfirmButton
              label={t("console.meters.delete")}
              title={t("console.meters.deleteTitle", { id: meter.meter_id })}
              body={t("console.meters.deleteBody")}
              disabled={remove.isPending}
              onConfirm={() => remove.mutate()}
            />
          )}
        </div>
      </td>
    </tr>
  );
}

export function MetersAdmin() {
  const { t } = useTranslation();
  const { caller } = useAuth();
  const canEdit = allows(caller?.role, "analyst");
  const canDelete = allows(caller?.role, "admin");
  const [form, setForm] = useState<{ mode: "new" } | { mode: "edit"; meter: MeterRead } | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const meters = useQuery({ queryKey: ["admin-meters"], queryFn: ({ signal }) => api<MeterList>("/meters", { signal, query: { limit: 1000 } }) });
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-semibold">{t("console.meters.title")}</h1>
      <p className={muted}>{t("console.meters.intro")}</p>
      {canEdit && form === null && (
        <button type="button" className={btn.primary} onClick={() => setForm({ mode: "new" })}>
          {t("console.meters.create")}
        </button>
      )}
      {form && (
        <MeterForm
          key={form.mode === "edit" ? form.meter.meter_id : "new"}
          editing={form.mode === "edit" ? form.meter : null}
          onCancel={() => setForm(null)}
          onSaved={(id) => {
            setForm(null);
            setNote(t("console.meters.saved", { id }));
          }}
        />
      )}
      <div className="space-y-2" aria-live="polite">
        {note && <Notice>{note}</Notice>}
        {error !== null && <ErrorNote error={error} />}
      </div>
      <Card title={t("console.meters.title")}>
        {meters.isPending && <Loading />}
        {meters.isError && <ErrorNote error={meters.error} />}
        {meters.isSuccess && (
          <div className="overflow-x-auto">
            <table className="w-full text-left text-sm" data-testid="meters">
              <thead className={head}>
                <tr>
                  <th className={cell}>{t("console.meters.id")}</th>
                  <th className={cell}>{t("console.meters.site")}</th>
                  <th className={cell}>{t("console.meters.kind")}</th>
                  <th className={cell}>{t("console.meters.timezone")}</th>
                  <th className={cell}>{t("console.meters.interval")}</th>
                  <th className={cell}>
                    {t("console.meters.lat")}, {t("console.meters.lon")}
                  </th>
                  <th className={cell}>
                    <span className="sr-only">{t("console.ui.actions")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {meters.data.items.map((m) => (
                  <MeterRow
                    key={m.meter_id}
                    meter={m}
                    canEdit={canEdit}
                    canDelete={canDelete}
                    onError={setError}
                    onEdit={() => {
                      setNote(null);
                      setForm({ mode: "edit", meter: m });
                      window.scrollTo({ top: 0 });
                    }}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
