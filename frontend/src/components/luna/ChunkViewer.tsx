// The cited (or found) passage in a side panel: its full text, the document's title, page and section.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useRef } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import type { components } from "../../api/schema";
import { Loading } from "../Card";
import { ErrorNote } from "../ErrorNote";
import "./i18n";

type ChunkRead = components["schemas"]["ChunkRead"];
type DocumentDetail = components["schemas"]["DocumentDetail"];

/** What a citation or a search hit knows about a passage. */
export interface ChunkRef {
  itemId: string;
  chunkId: string;
  title: string;
  page: number | null;
  section: string | null;
  snippet: string;
  /** The citation number, when it is one. */
  n?: number;
}

function pages(chunk: ChunkRead | null | undefined, fallback: number | null): string | null {
  if (chunk?.page_start != null) {
    return chunk.page_end != null && chunk.page_end !== chunk.page_start ? `${chunk.page_start}–${chunk.page_end}` : String(chunk.page_start);
  }
  return fallback == null ? null : String(fallback);
}

export function ChunkViewer({ target, onClose }: { target: ChunkRef; onClose: () => void }) {
  const { t } = useTranslation();
  const titleId = useId();
  const closeRef = useRef<HTMLButtonElement>(null);
  const doc = useQuery({
    queryKey: ["document", target.itemId],
    queryFn: ({ signal }) => api<DocumentDetail>(`/documents/${target.itemId}`, { signal }),
  });
  const chunk = useQuery({
    queryKey: ["chunk", target.itemId, target.chunkId],
    queryFn: ({ signal }) => api<ChunkRead>(`/documents/${target.itemId}/chunks/${target.chunkId}`, { signal }),
  });
  useEffect(() => {
    closeRef.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [target, onClose]);
  const found = chunk.data;
  const page = pages(found, target.page);
  const title = doc.data?.title ?? target.title;
  // The heading path starts with the document's own title, already shown above.
  const headings = (found?.heading_path ?? []).filter((heading, index) => index > 0 || heading !== title);
  const section = found?.section ?? target.section ?? (headings.length ? headings.join(" › ") : null);
  return (
    <div className="fixed inset-0 z-40 flex justify-end bg-slate-950/40" onClick={onClose}>
      <aside
        role="dialog"
        aria-labelledby={titleId}
        data-testid="chunk-viewer"
        onClick={(event) => event.stopPropagation()}
        className="flex h-full w-full max-w-xl flex-col border-l border-slate-300 bg-white shadow-xl dark:border-slate-700 dark:bg-slate-900"
      >
        <div className="flex items-start justify-between gap-3 border-b border-slate-200 p-4 dark:border-slate-800">
          <h2 id={titleId} className="text-lg font-semibold">
            {target.n != null ? `[${target.n}] ` : ""}
            {t("luna.chunk.title")}
          </h2>
          <button
            ref={closeRef}
            type="button"
            onClick={onClose}
            className="rounded border border-slate-300 px-2 py-1 text-sm hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800"
          >
            {t("luna.chunk.close")}
          </button>
        </div>
        <div className="min-h-0 flex-1 space-y-3 overflow-y-auto p-4">
          <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
            <dt className="text-slate-600 dark:text-slate-400">{t("luna.chunk.document")}</dt>
            <dd className="break-words font-medium" data-testid="chunk-title">{title}</dd>
            {page && (
              <>
                <dt className="text-slate-600 dark:text-slate-400">{t("luna.chunk.page")}</dt>
                <dd>{page}</dd>
              </>
            )}
            {section && (
              <>
                <dt className="text-slate-600 dark:text-slate-400">{t("luna.chunk.section")}</dt>
                <dd className="break-words">{section}</dd>
              </>
            )}
          </dl>
          {found && doc.data && (
            <p className="text-xs text-slate-600 dark:text-slate-400">{t("luna.chunk.passage", { n: found.chunk_idx + 1, total: doc.data.chunk_count })}</p>
          )}
          {chunk.isPending ? (
            <Loading />
          ) : chunk.isError ? (
            <ErrorNote error={chunk.error} />
          ) : found ? (
            <blockquote data-testid="chunk-text" className="whitespace-pre-wrap break-words rounded border-l-4 border-sky-500 bg-slate-50 p-3 text-sm leading-relaxed dark:bg-slate-950">
              {found.text}
            </blockquote>
          ) : (
            <>
              <p className="text-sm">{t("luna.chunk.notFound")}</p>
              <blockquote data-testid="chunk-text" className="whitespace-pre-wrap break-words rounded border-l-4 border-slate-400 bg-slate-50 p-3 text-sm dark:bg-slate-950">
                {target.snippet}
              </blockquote>
            </>
          )}
        </div>
      </aside>
    </div>
  );
}
