// Privacy & learning (admin, on the Settings page under the privacy switch): the ε budget per ledger
// (GET /learn/budget), this instance's signing key (GET /learn/public-key, copyable), an export of a
// period (POST /learn/export: the API's 409 while the switch is off, else the file and its summary) and
// the import of a signed export as priors (POST /learn/priors). docs/learning.md, "What leaves the site".
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { dateTime, num } from "../../format";
import { btn, cell, head, input, muted, row } from "./helpers";
import "./i18n";
import { Notice } from "./ui";
import { ledgersWithCurrent } from "./learning";
import type { BudgetRead, ExportCreate, ExportRead, PriorsImportRead, PrivacyRead, PublicKeyRead } from "./types";

function dateInput(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function Budget() {
  const { t } = useTranslation();
  const budget = useQuery({ queryKey: ["learn-budget"], queryFn: ({ signal }) => api<BudgetRead>("/learn/budget", { signal }) });
  return (
    <Card title={t("console.learning.budget")}>
      {budget.isPending && <Loading />}
      {budget.isError && <ErrorNote error={budget.error} />}
      {budget.isSuccess && (
        <>
          <p className={`${muted} mb-2`}>{t("console.learning.perExport", { eps: num(budget.data.epsilon_per_export, 2), budget: num(budget.data.epsilon_budget, 2) })}</p>
          <div className="overflow-x-auto">
            <table className="w-full text-left text-sm" data-testid="learn-budget">
              <thead className={head}>
                <tr>
                  <th className={cell}>{t("console.learning.ledger")}</th>
                  <th className={`${cell} text-right`}>{t("console.learning.spent")}</th>
                  <th className={`${cell} text-right`}>{t("console.learning.remaining")}</th>
                  <th className={cell}>{t("console.learning.used")}</th>
                </tr>
              </thead>
              <tbody>
                {ledgersWithCurrent(budget.data, new Date()).map((ledger) => {
                  const share = budget.data.epsilon_budget > 0 ? Math.min(ledger.epsilon_spent / budget.data.epsilon_budget, 1) : 0;
                  return (
                    <tr key={ledger.ledger} className={row}>
                      <td className={`${cell} ${ledger.ledger === "bandit" ? "" : "font-mono text-xs"}`}>{ledger.ledger === "bandit" ? t("console.learning.bandit") : ledger.ledger}</td>
                      <td className={`${cell} text-right tabular-nums`}>{num(ledger.epsilon_spent, 2)}</td>
                      <td className={`${cell} text-right tabular-nums`}>{num(ledger.epsilon_remaining, 2)}</td>
                      <td className={cell}>
                        <div
                          role="meter"
                          aria-valuemin={0}
                          aria-valuemax={100}
                          aria-valuenow={Math.round(share * 100)}
                          aria-label={`${t("console.learning.used")} ${ledger.ledger}`}
                          className="mt-1 h-2 w-32 rounded bg-slate-200 dark:bg-slate-700"
                        >
                          <div className={`h-2 rounded ${share >= 1 ? "bg-red-600" : "bg-sky-600"}`} style={{ width: `${share * 100}%` }} />
                        </div>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Card>
  );
}

function PublicKey() {
  const { t } = useTranslation();
  const [copy, setCopy] = useState<"idle" | "done" | "failed">("idle");
  const key = useQuery({ queryKey: ["learn-public-key"], queryFn: ({ signal }) => api<PublicKeyRead>("/learn/public-key", { signal }) });
  async function copyKey(text: string) {
    try {
      await navigator.clipboard.writeText(text);
      setCopy("done");
    } catch {
      setCopy("failed");
    }
  }
  return (
    <Card title={t("console.learning.publicKey")}>
      {key.isPending && <Loading />}
      {key.isError && <ErrorNote error={key.error} />}
      {key.isSuccess && (
        <div className="space-y-2 text-sm">
          <p className={muted}>{t("console.learning.publicKeyHelp")}</p>
          <div className="flex flex-wrap items-center gap-2">
            <code className="min-w-0 flex-1 break-all rounded bg-slate-100 px-2 py-1 font-mono text-xs dark:bg-slate-800" data-testid="learn-public-key">
              {key.data.public_key}
            </code>
            <button type="button" className={btn.secondary} onClick={() => void copyKey(key.data.public_key)}>
              {copy === "done" ? t("console.learning.copied") : t("console.learning.copy")}
            </button>
          </div>
          {copy === "failed" && <p className="text-red-700 dark:text-red-300">{t("console.learning.copyFailed")}</p>}
          <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1">
            <dt className="text-slate-600 dark:text-slate-400">{t("console.learning.fingerprint")}</dt>
            <dd className="break-all font-mono text-xs">{key.data.fingerprint}</dd>
          </dl>
        </div>
      )}
    </Card>
  );
}

function Export() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const privacy = useQuery({ queryKey: ["privacy"], queryFn: ({ signal }) => api<PrivacyRead>("/admin/privacy", { signal }) });
  const [from, setFrom] = useState(() => {
    const now = new Date();
    return dateInput(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)));
  });
  const [to, setTo] = useState(() => dateInput(new Date(Date.now() + 24 * 3600 * 1000)));
  const [includeBandit, setIncludeBandit] = useState(true);
  const create = useMutation({
    mutationFn: (body: ExportCreate) => api<ExportRead>("/learn/export", { method: "POST", body }),
    onSettled: () => void client.invalidateQueries({ queryKey: ["learn-budget"] }),
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate({ from: `${from}T00:00:00Z`, to: `${to}T00:00:00Z`, include_bandit: includeBandit, send: false });
  }
  const off = privacy.data?.flag_send_aggregates === false;
  return (
    <Card title={t("console.learning.export")}>
      <form onSubmit={submit} className="space-y-3 text-sm">
        <p className={muted}>{t("console.learning.exportHelp")}</p>
        {off && (
          <p className="rounded border border-amber-500 bg-amber-50 px-3 py-2 text-amber-950 dark:bg-amber-950 dark:text-amber-50" data-testid="learn-flag-off">
            {t("console.learning.flagOff")}
          </p>
        )}
        <div className="grid gap-3 sm:grid-cols-2">
          <div>
            <label htmlFor="learn-from" className="mb-1 block font-medium">
              {t("console.learning.from")}
            </label>
            <input id="learn-from" type="date" required className={input} value={from} onChange={(e) => setFrom(e.target.value)} />
          </div>
          <div>
            <label htmlFor="learn-to" className="mb-1 block font-medium">
              {t("console.learning.to")}
            </label>
            <input id="learn-to" type="date" required className={input} value={to} onChange={(e) => setTo(e.target.value)} />
          </div>
        </div>
        <label className="flex items-start gap-2">
          <input type="checkbox" className="mt-1" checked={includeBandit} onChange={(e) => setIncludeBandit(e.target.checked)} />
          <span>{t("console.learning.includeBandit")}</span>
        </label>
        <button type="submit" className={btn.primary} disabled={create.isPending || !from || !to}>
          {create.isPending ? t("console.learning.creating") : t("console.learning.create")}
        </button>
        {create.isError && <ErrorNote error={create.error} />}
        {create.isSuccess && (
          <div className="space-y-2" data-testid="learn-export">
            <Notice>{t("console.learning.created")}</Notice>
            <dl className="space-y-1.5">
              {(
                [
                  ["file", <span className="break-all font-mono text-xs">{create.data.file}</span>],
                  ["period", `${dateTime(create.data.period_from)} – ${dateTime(create.data.period_to)}`],
                  ["epsilon", <span className="tabular-nums">{num(create.data.epsilon, 2)}</span>],
                  ["digest", <span className="break-all font-mono text-xs">{create.data.digest_sha256}</span>],
                  ["fingerprint", <span className="break-all font-mono text-xs">{create.data.key_fingerprint}</span>],
                  ["sent", create.data.sent ? t("common.yes") : t("common.no")],
                ] as const
              ).map(([label, value]) => (
                <div key={label}>
                  <dt className="text-xs text-slate-600 dark:text-slate-400">{t(`console.learning.${label}`)}</dt>
                  <dd>{value}</dd>
                </div>
              ))}
            </dl>
          </div>
        )}
      </form>
    </Card>
  );
}

function Priors() {
  const { t } = useTranslation();
  const [file, setFile] = useState<File | null>(null);
  const [parseError, setParseError] = useState<string | null>(null);
  const upload = useMutation({
    mutationFn: (document: unknown) => api<PriorsImportRead>("/learn/priors", { method: "POST", body: document }),
  });
  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!file) return;
    setParseError(null);
    upload.reset();
    let document: unknown;
    try {
      document = JSON.parse(await file.text());
    } catch {
      setParseError(t("console.learning.notJson", { name: file.name }));
      return;
    }
    upload.mutate(document);
  }
  return (
    <Card title={t("console.learning.priors")}>
      <form onSubmit={(event) => void submit(event)} className="space-y-3 text-sm">
        <p className={muted}>{t("console.learning.priorsHelp")}</p>
        <div>
          <label htmlFor="learn-priors" className="mb-1 block font-medium">
            {t("console.learning.priorsFile")}
          </label>
          <input id="learn-priors" type="file" accept="application/json,.json" className={input} onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </div>
        <button type="submit" className={btn.primary} disabled={!file || upload.isPending}>
          {upload.isPending ? t("console.learning.importing") : t("console.learning.import")}
        </button>
        {parseError && (
          <p role="alert" className="text-red-700 dark:text-red-300">
            {parseError}
          </p>
        )}
        {upload.isError && <ErrorNote error={upload.error} />}
        {upload.isSuccess && (
          <div data-testid="learn-priors-result" className="space-y-1">
            <Notice>
              {upload.data.imported ? t("console.learning.imported", { count: upload.data.arms.length, weight: num(upload.data.weight, 2) }) : t("console.learning.alreadyImported")}
            </Notice>
            <p className="break-all font-mono text-xs">{upload.data.digest_sha256}</p>
          </div>
        )}
      </form>
    </Card>
  );
}

/** The learning part of the Settings page (admin only, as the page). */
export function Learning() {
  const { t } = useTranslation();
  return (
    <section className="space-y-4" aria-labelledby="learning-title" data-testid="learning">
      <div>
        <h2 id="learning-title" className="text-xl font-semibold">
          {t("console.learning.title")}
        </h2>
        <p className={muted}>{t("console.learning.intro")}</p>
      </div>
      <div className="grid items-start gap-4 lg:grid-cols-2">
        <Budget />
        <PublicKey />
        <Export />
        <Priors />
      </div>
    </section>
  );
}
