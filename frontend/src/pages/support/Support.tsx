// Support: Luna as the helpdesk (the chat), a document search whose hits open the same passage viewer,
// and a footer with the system's version and the operator's privacy and imprint texts (placeholders).
import { useQuery } from "@tanstack/react-query";
import { useCallback, useId, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import type { components } from "../../api/schema";
import type { StatusSummary } from "../../api/types";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { ChunkViewer, type ChunkRef } from "../../components/luna/ChunkViewer";
import { LunaChat } from "../../components/luna/LunaChat";
import "../../components/luna/i18n";
import { duration } from "../../format";
import { MemoryPanel } from "./Memory";

type SearchResult = components["schemas"]["SearchResult"];
type SearchHit = components["schemas"]["SearchHit"];

function hitRef(hit: SearchHit): ChunkRef {
  return { itemId: hit.item_id, chunkId: hit.chunk_id, title: hit.title, page: hit.page, section: hit.section, snippet: hit.snippet };
}

function DocumentSearch() {
  const { t } = useTranslation();
  const inputId = useId();
  const [text, setText] = useState("");
  const [query, setQuery] = useState<string | null>(null);
  const [open, setOpen] = useState<ChunkRef | null>(null);
  const close = useCallback(() => setOpen(null), []);
  const search = useQuery({
    queryKey: ["search", query],
    queryFn: ({ signal }) => api<SearchResult>("/search", { query: { q: query, top_k: 10 }, signal }),
    enabled: query !== null,
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    const q = text.trim();
    if (q) setQuery(q);
  }
  return (
    <Card title={t("luna.support.search")}>
      <form onSubmit={submit} className="flex flex-wrap items-end gap-2" role="search">
        <div className="min-w-0 flex-1">
          <label htmlFor={inputId} className="block text-sm font-medium">
            {t("luna.support.searchLabel")}
          </label>
          <input
            id={inputId}
            type="search"
            value={text}
            maxLength={2000}
            onChange={(event) => setText(event.target.value)}
            className="mt-1 block w-full rounded border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950"
          />
        </div>
        <button type="submit" disabled={text.trim() === ""} className="rounded bg-sky-700 px-3 py-1.5 text-sm font-semibold text-white hover:bg-sky-800 disabled:opacity-60">
          {t("luna.support.searchButton")}
        </button>
      </form>
      {query !== null && (
        <div className="mt-3">
          {search.isPending ? (
            <Loading />
          ) : search.isError ? (
            <ErrorNote error={search.error} />
          ) : search.data.hits.length === 0 ? (
            <p className="text-sm">{t("luna.support.noResults")}</p>
          ) : (
            <>
              <p className="mb-2 text-xs text-slate-600 dark:text-slate-400">{t("luna.support.results", { count: search.data.hits.length, ms: Math.round(search.data.took_ms) })}</p>
              <ol className="space-y-2" data-testid="search-results">
                {search.data.hits.map((hit) => (
                  <li key={hit.chunk_id} className="rounded border border-slate-200 p-2 text-sm dark:border-slate-800">
                    <button type="button" onClick={() => setOpen(hitRef(hit))} className="text-left font-medium text-sky-700 underline hover:text-sky-900 dark:text-sky-300 dark:hover:text-sky-100">
                      {hit.title}
                    </button>
                    {(hit.section || hit.heading_path.length > 0 || hit.page != null) && (
                      <span className="block text-xs text-slate-600 dark:text-slate-400">
                        {[hit.page != null ? t("luna.chat.page", { page: hit.page }) : null, hit.section ?? hit.heading_path.slice(1).join(" › ")].filter(Boolean).join(" · ")}
                      </span>
                    )}
                    <p className="mt-1 line-clamp-3 break-words text-slate-700 dark:text-slate-300">{hit.snippet}</p>
                  </li>
                ))}
              </ol>
            </>
          )}
        </div>
      )}
      {open && <ChunkViewer target={open} onClose={close} />}
    </Card>
  );
}

function Footer() {
  const { t } = useTranslation();
  const status = useQuery({
    queryKey: ["status-summary"],
    queryFn: ({ signal }) => api<StatusSummary>("/status/summary", { signal }),
    refetchInterval: 30_000,
  });
  return (
    <footer className="grid gap-4 border-t border-slate-200 pt-4 text-sm md:grid-cols-3 dark:border-slate-800" data-testid="support-footer">
      <section>
        <h2 className="mb-1 font-semibold">{t("luna.support.footer")}</h2>
        {status.isPending ? (
          <Loading />
        ) : status.isError ? (
          <ErrorNote error={status.error} />
        ) : (
          <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-0.5">
            <dt className="text-slate-600 dark:text-slate-400">{t("luna.support.version")}</dt>
            <dd data-testid="support-version">{status.data.version}</dd>
            <dt className="text-slate-600 dark:text-slate-400">{t("luna.support.uptime")}</dt>
            <dd>{duration(status.data.uptime_s)}</dd>
            <dt className="text-slate-600 dark:text-slate-400">{t("luna.support.documents")}</dt>
            <dd>{status.data.knowledge?.documents ?? "–"}</dd>
          </dl>
        )}
      </section>
      {(["privacy", "imprint"] as const).map((part) => (
        <section key={part} data-testid={`support-${part}`}>
          <h2 className="mb-1 font-semibold">{t(`luna.support.${part}`)}</h2>
          <p className="mb-1 w-fit rounded bg-amber-100 px-1.5 py-0.5 text-xs font-semibold text-amber-900 dark:bg-amber-800 dark:text-amber-50">{t("luna.support.placeholder")}</p>
          <p className="text-slate-700 dark:text-slate-300">{t(`luna.support.${part}Text`)}</p>
        </section>
      ))}
    </footer>
  );
}

export function Support() {
  const { t } = useTranslation();
  return (
    <div className="space-y-4">
      <div>
        <h1 className="text-2xl font-semibold">{t("luna.support.title")}</h1>
        <p className="mt-1 text-sm text-slate-700 dark:text-slate-300">{t("luna.support.intro")}</p>
      </div>
      <div className="grid items-start gap-4 lg:grid-cols-2">
        <Card title={t("luna.chat.title")}>
          <LunaChat />
        </Card>
        <div className="space-y-4">
          <DocumentSearch />
          <MemoryPanel />
        </div>
      </div>
      <Footer />
    </div>
  );
}
