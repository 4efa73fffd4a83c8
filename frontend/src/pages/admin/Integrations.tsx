// Admin → Integrations: webhooks (create with the secret shown once, delete), deliveries that failed
// for good (redeliver), and the status of the price fetch, field devices and dispatch.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { api, ApiError } from "../../api/client";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { dateTime } from "../../format";
import { btn, cell, invalidFields, muted, row } from "./helpers";
import "./i18n";
import type { DeliveryList, DeliveryRead, DeviceList, DispatchRead, PriceSourceList, WebhookCreated, WebhookList, WebhookRead } from "./types";
import { ConfirmButton, Dialog, Field, Table } from "./ui";

const EVENTS = ["alert.raised", "alert.resolved", "rule.fired"] as const;
const SEVERITIES = ["", "info", "warning", "critical"] as const;

/** The new webhook's signing secret, shown once. */
function SecretDialog({ created, onClose }: { created: WebhookCreated; onClose: () => void }) {
  const { t } = useTranslation();
  return (
    <Dialog
      title={t("console.integrations.secretTitle", { name: created.name })}
      onClose={onClose}
      actions={
        <button type="button" data-autofocus className={btn.primary} onClick={onClose}>
          {t("console.integrations.stored")}
        </button>
      }
    >
      <p role="alert" className="rounded border border-amber-500 bg-amber-50 px-3 py-2 font-semibold text-amber-950 dark:bg-amber-950 dark:text-amber-100">
        {t("console.integrations.secretWarning")}
      </p>
      <code data-testid="webhook-secret" tabIndex={0} className="block select-all rounded border border-slate-400 bg-slate-50 px-2 py-1.5 font-mono text-sm [overflow-wrap:anywhere] dark:border-slate-600 dark:bg-slate-950">
        {created.secret}
      </code>
    </Dialog>
  );
}

function CreateWebhook({ onCreated }: { onCreated: (created: WebhookCreated) => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [url, setUrl] = useState("");
  const [name, setName] = useState("");
  const [events, setEvents] = useState<string[]>([...EVENTS]);
  const [severity, setSeverity] = useState<string>("");
  const create = useMutation({
    mutationFn: () =>
      api<WebhookCreated>("/integrations/webhooks", {
        method: "POST",
        body: { url, name, events, ...(severity ? { min_severity: severity } : {}) },
      }),
    onSuccess: (created) => {
      // Only a saved webhook clears the form: a refused one keeps what was typed.
      setUrl("");
      setName("");
      void client.invalidateQueries({ queryKey: ["webhooks"] });
      onCreated(created);
    },
  });
  const bad = invalidFields(create.error);
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }
  const toggle = (value: string) => setEvents((now) => (now.includes(value) ? now.filter((e) => e !== value) : [...now, value]));
  return (
    <Card title={t("console.integrations.create")}>
      <form onSubmit={submit} className="grid items-end gap-3 md:grid-cols-[2fr_1fr_10rem_auto]" aria-label={t("console.integrations.create")}>
        <Field id="webhook-url" label={t("console.integrations.url")} invalid={bad.has("url")}>
          {(props) => <input {...props} value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://ops.example.org/luna" autoComplete="off" />}
        </Field>
        <Field id="webhook-name" label={t("console.integrations.name")} invalid={bad.has("name")}>
          {(props) => <input {...props} value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />}
        </Field>
        <Field id="webhook-severity" label={t("console.integrations.minSeverity")} invalid={bad.has("min_severity")}>
          {(props) => (
            <select {...props} value={severity} onChange={(e) => setSeverity(e.target.value)}>
              {SEVERITIES.map((s) => (
                <option key={s} value={s}>
                  {s ? t(`console.integrations.severity.${s}`) : t("console.integrations.anySeverity")}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" className={`${btn.primary} ${bad.size ? "mb-5" : ""}`} disabled={create.isPending}>
          {create.isPending ? t("console.ui.saving") : t("console.integrations.submit")}
        </button>
        <fieldset className="md:col-span-4">
          <legend className="text-sm font-medium">{t("console.integrations.events")}</legend>
          <div className="mt-1 flex flex-wrap gap-4 text-sm">
            {EVENTS.map((value) => (
              <label key={value} className="flex items-center gap-1.5">
                <input type="checkbox" checked={events.includes(value)} onChange={() => toggle(value)} />
                <span className="font-mono text-xs">{value}</span>
              </label>
            ))}
          </div>
        </fieldset>
      </form>
      {create.isError && (
        <div className="mt-3">
          <ErrorNote error={create.error} />
        </div>
      )}
    </Card>
  );
}

function WebhookRow({ item }: { item: WebhookRead }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const remove = useMutation({
    mutationFn: () => api<null>(`/integrations/webhooks/${item.webhook_id}`, { method: "DELETE" }),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["webhooks"] }),
  });
  return (
    <tr className={row} data-testid={`webhook-${item.name}`}>
      <td className={`${cell} font-medium`}>{item.name}</td>
      <td className={`${cell} font-mono text-xs [overflow-wrap:anywhere]`}>{item.url}</td>
      <td className={`${cell} font-mono text-xs`}>{item.events.join(", ")}</td>
      <td className={cell}>{item.min_severity ? t(`console.integrations.severity.${item.min_severity}`) : t("console.integrations.anySeverity")}</td>
      <td className={`${cell} font-mono text-xs`}>{item.secret_hint}</td>
      <td className={cell}>{item.enabled ? <span className="text-emerald-700 dark:text-emerald-400">● {t("console.integrations.enabled")}</span> : t("console.integrations.disabled")}</td>
      <td className={cell}>
        <ConfirmButton
          label={t("console.integrations.delete")}
          title={t("console.integrations.deleteTitle", { name: item.name })}
          body={t("console.integrations.deleteBody")}
          disabled={remove.isPending}
          onConfirm={() => remove.mutate()}
        />
        {remove.isError && <ErrorNote error={remove.error} />}
      </td>
    </tr>
  );
}

function DeadLetter({ item }: { item: DeliveryRead }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const again = useMutation({
    mutationFn: () => api<DeliveryRead>(`/integrations/webhooks/deliveries/${item.delivery_id}/redeliver`, { method: "POST" }),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["deliveries"] }),
  });
  return (
    <tr className={row} data-testid="dead-letter">
      <td className={cell}>{dateTime(item.created_at)}</td>
      <td className={`${cell} font-mono text-xs`}>{item.event_type}</td>
      <td className={`${cell} font-mono text-xs`}>{item.channel}</td>
      <td className={cell}>{item.attempts}</td>
      <td className={`${cell} text-xs [overflow-wrap:anywhere]`}>{item.last_error ?? (item.response_status ? `HTTP ${item.response_status}` : "–")}</td>
      <td className={cell}>
        <button type="button" className={btn.secondary} disabled={again.isPending} onClick={() => again.mutate()}>
          {t("console.integrations.redeliver")}
        </button>
        {again.isError && <ErrorNote error={again.error} />}
      </td>
    </tr>
  );
}

/** One line per integration: on or off, and what it last did. */
function StatusCard() {
  const { t } = useTranslation();
  const prices = useQuery({ queryKey: ["price-sources"], queryFn: ({ signal }) => api<PriceSourceList>("/integrations/prices/sources", { signal }) });
  const devices = useQuery({ queryKey: ["devices"], queryFn: ({ signal }) => api<DeviceList>("/devices", { signal }) });
  const dispatch = useQuery({
    queryKey: ["dispatch"],
    queryFn: ({ signal }) => api<DispatchRead>("/dispatch", { query: { limit: 5 }, signal }),
    retry: (count, error) => !(error instanceof ApiError) && count < 2,
  });
  const line = (label: string, body: ReactNode, testId: string) => (
    <div className="grid gap-1 py-1.5 sm:grid-cols-[12rem_1fr]" data-testid={testId}>
      <dt className="font-medium">{label}</dt>
      <dd className="text-sm">{body}</dd>
    </div>
  );
  const sources = prices.data?.items ?? [];
  const deviceItems = devices.data?.items ?? [];
  return (
    <Card title={t("console.integrations.status")}>
      <dl className="divide-y divide-slate-200 dark:divide-slate-800">
        {line(
          t("console.integrations.prices"),
          prices.isPending ? <Loading /> : prices.isError ? <ErrorNote error={prices.error} /> : sources.length === 0 ? t("console.integrations.pricesOff") : sources.map((s) => `${s.source}: ${s.status}${s.last_success_at ? ` (${dateTime(s.last_success_at)})` : ""}`).join(" · "),
          "status-prices",
        )}
        {line(
          t("console.integrations.devices"),
          devices.isPending ? <Loading /> : devices.isError ? <ErrorNote error={devices.error} /> : !devices.data.configured || deviceItems.length === 0 ? t("console.integrations.devicesOff") : t("console.integrations.devicesOn", { count: deviceItems.length, ok: deviceItems.filter((d) => d.state === "ok").length }),
          "status-devices",
        )}
        {line(
          t("console.integrations.dispatch"),
          dispatch.isPending ? <Loading /> : dispatch.isError ? <ErrorNote error={dispatch.error} /> : dispatch.data.enabled ? (dispatch.data.plan ? t("console.integrations.dispatchPlan", { status: dispatch.data.plan.status, site: dispatch.data.plan.site }) : t("console.integrations.dispatchIdle")) : t("console.integrations.dispatchOff"),
          "status-dispatch",
        )}
      </dl>
      <p className={`mt-2 text-xs ${muted}`}>{t("console.integrations.statusHint")}</p>
    </Card>
  );
}

export function Integrations() {
  const { t } = useTranslation();
  const [created, setCreated] = useState<WebhookCreated | null>(null);
  const hooks = useQuery({ queryKey: ["webhooks"], queryFn: ({ signal }) => api<WebhookList>("/integrations/webhooks", { signal }) });
  const dead = useQuery({ queryKey: ["deliveries", "dead"], queryFn: ({ signal }) => api<DeliveryList>("/integrations/webhooks/deliveries", { query: { status: "dead", limit: 20 }, signal }) });
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-semibold">{t("console.integrations.title")}</h1>
      <p className={muted}>{t("console.integrations.intro")}</p>
      <StatusCard />
      <CreateWebhook onCreated={setCreated} />
      {created && <SecretDialog created={created} onClose={() => setCreated(null)} />}
      <Card title={t("console.integrations.list")}>
        {hooks.isPending && <Loading />}
        {hooks.isError && <ErrorNote error={hooks.error} />}
        {hooks.isSuccess && hooks.data.items.length === 0 && <p className="text-sm">{t("console.integrations.noWebhooks")}</p>}
        {hooks.isSuccess && hooks.data.items.length > 0 && (
          <Table columns={["name", "url", "events", "minSeverity", "secret", "state"].map((key) => t(`console.integrations.${key}`))}>
            {hooks.data.items.map((item) => (
              <WebhookRow key={item.webhook_id} item={item} />
            ))}
          </Table>
        )}
      </Card>
      <Card title={t("console.integrations.dead")}>
        <p className={`mb-2 ${muted}`}>{t("console.integrations.deadIntro")}</p>
        {dead.isPending && <Loading />}
        {dead.isError && <ErrorNote error={dead.error} />}
        {dead.isSuccess && dead.data.items.length === 0 && <p className="text-sm">{t("console.integrations.noDead")}</p>}
        {dead.isSuccess && dead.data.items.length > 0 && (
          <Table columns={["when", "event", "channel", "attempts", "lastError"].map((key) => t(`console.integrations.${key}`))}>
            {dead.data.items.map((item) => (
              <DeadLetter key={item.delivery_id} item={item} />
            ))}
          </Table>
        )}
      </Card>
    </div>
  );
}
