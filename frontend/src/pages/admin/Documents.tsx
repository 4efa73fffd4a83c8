import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useReducer, useRef, useState, type DragEvent } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import { allows } from "../../api/roles";
import { useAuth } from "../../auth/context";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { dateTime } from "../../format";
import { btn, bytes, cell, head, input, muted, row } from "./helpers";
import "./i18n";
import type { DocumentIngested, DocumentList, DocumentRead } from "./types";
import { ConfirmButton, Notice, Pager } from "./ui";
import { FINISHED, runUpload, uploadsReducer, type Upload } from "./uploads";

const PHASE_COLOUR: Record<Upload["phase"], string> = {
  waiting: "text-slate-600 dark:text-slate-400",
  uploading: "text-sky-700 dark:text-sky-300",
  queued: "text-sky-700 dark:text-sky-300",
  processing: "text-sky-700 dark:text-sky-300",
  ready: "text-emerald-700 dark:text-emerald-400",
  failed: "text-red-700 dark:text-red-300",
  error: "text-red-700 dark:text-red-300",
};

/** Each file of this session: its phase, its progress and, at the end, the result in the API's words. */
export function UploadList({ uploads }: { uploads: Upload[] }) {
  const { t } = useTranslation();
  return (
    <ul className="space-y-2" aria-label={t("console.docs.uploads")} data-testid="uploads">
      {uploads.map((u) => {
        const chunkShare = u.chunksTotal ? Math.round(((u.chunksDone ?? 0) / u.chunksTotal) * 100) : undefined;
        const value = u.phase === "uploading" ? u.sent : u.phase === "processing" ? chunkShare : undefined;
        return (
          <li key={u.id} className="rounded border border-slate-200 p-2 text-sm dark:border-slate-800" data-testid="upload" data-phase={u.phase}>
            <div className="flex flex-wrap items-baseline justify-between gap-2">
              <span className="break-all font-medium">{u.name}</span>
              <span className="text-xs text-slate-600 dark:text-slate-400">{bytes(u.size)}</span>
            </div>
            {!FINISHED.includes(u.phase) && (
              <progress className="mt-1 h-2 w-full accent-sky-600" max={100} value={value} aria-label={t("console.docs.progressOf", { name: u.name })} />
            )}
            <p className={`mt-1 ${PHASE_COLOUR[u.phase]}`}>
              <span className="font-semibold">{t(`console.docs.phase.${u.phase}`, { pct: u.sent })}</span>
              {u.phase === "processing" && u.chunksTotal ? ` · ${t("console.docs.chunks", { done: u.chunksDone ?? 0, total: u.chunksTotal })}` : ""}
              {u.phase === "ready" && !u.duplicate ? ` · ${t("console.docs.chunks", { done: u.chunksDone ?? 0, total: u.chunksTotal ?? u.chunksDone ?? 0 })}` : ""}
              {u.duplicate ? ` · ${t("console.docs.duplicate")}` : ""}
            </p>
            {u.message && (u.phase === "failed" || u.phase === "error") && (
              <p role="alert" className="mt-1 rounded border border-red-400 bg-red-50 px-2 py-1 text-red-900 dark:border-red-500 dark:bg-red-950 dark:text-red-100">
                {u.status ? `(${u.status}) ` : ""}
                {u.message}
              </p>
            )}
          </li>
        );
      })}
    </ul>
  );
}

let uploadSeq = 0;

function UploadPanel() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [uploads, dispatch] = useReducer(uploadsReducer, []);
  const [tags, setTags] = useState("");
  const [over, setOver] = useState(false);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  function start(files: FileList | File[]) {
    const list = Array.from(files);
    if (list.length === 0) return;
    const entries = list.map((file) => ({ id: `u${++uploadSeq}`, name: file.name, size: file.size, phase: "waiting" as const, sent: 0 }));
    dispatch({ type: "add", uploads: entries });
    entries.forEach((entry, i) => {
      const file = list[i];
      if (!file) return;
      void runUpload(file, tags, (patch) => alive.current && dispatch({ type: "update", id: entry.id, patch }), () => alive.current).then(() =>
        client.invalidateQueries({ queryKey: ["documents"] }),
      );
    });
  }

  function drop(event: DragEvent) {
    event.preventDefault();
    setOver(false);
    start(event.dataTransfer.files);
  }

  return (
    <Card title={t("console.docs.upload")}>
      <div
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
        data-testid="dropzone"
        className={`rounded-lg border-2 border-dashed p-6 text-center ${over ? "border-sky-600 bg-sky-50 dark:bg-sky-950" : "border-slate-400 dark:border-slate-600"}`}
      >
        <p className="font-medium">{t("console.docs.drop")}</p>
        <p className="my-1 text-sm text-slate-600 dark:text-slate-400">{t("console.docs.or")}</p>
        <label className={`${btn.primary} inline-block cursor-pointer focus-within:ring-2 focus-within:ring-sky-500`}>
          {t("console.docs.choose")}
          <input
            type="file"
            multiple
            className="sr-only"
            data-testid="file-input"
            onChange={(e) => {
              if (e.target.files) start(e.target.files);
              e.target.value = "";
            }}
          />
        </label>
      </div>
      <div className="mt-3 max-w-md">
        <label htmlFor="doc-tags" className="mb-1 block text-sm font-medium">
          {t("console.docs.tags")}
        </label>
        <input id="doc-tags" className={input} value={tags} onChange={(e) => setTags(e.target.value)} />
      </div>
      {uploads.length > 0 && (
        <div className="mt-4">
          <div className="mb-2 flex items-center justify-between gap-2">
            <h3 className="text-sm font-semibold">{t("console.docs.uploads")}</h3>
            <button type="button" className={btn.secondary} onClick={() => dispatch({ type: "clearFinished" })}>
              {t("console.docs.clear")}
            </button>
          </div>
          <UploadList uploads={uploads} />
        </div>
      )}
    </Card>
  );
}

function DocumentRow({ doc, canWrite, onDone }: { doc: DocumentRead; canWrite: boolean; onDone: (note: string | null, error: unknown) => void }) {
  const { t } = useTranslation();
  const client = useQueryClient();
  const refresh = () => void client.invalidateQueries({ queryKey: ["documents"] });
  const reindex = useMutation({
    mutationFn: () => api<DocumentIngested>(`/documents/${doc.item_id}/reindex`, { method: "POST" }),
    onSuccess: () => {
      onDone(t("console.docs.reindexQueued", { title: doc.title }), null);
      refresh();
    },
    onError: (error) => onDone(null, error),
  });
  const remove = useMutation({
    mutationFn: async () => {
      // 204: no body, so not through api() (which reads JSON)
      await api<unknown>(`/documents/${doc.item_id}`, { method: "DELETE" }).catch((error: unknown) => {
        if (error instanceof SyntaxError) return null;
        throw error;
      });
    },
    onSuccess: () => {
      onDone(null, null);
      refresh();
    },
    onError: (error) => onDone(null, error),
  });
  const state = doc.ingest.status;
  const busy = state === "queued" || state === "processing";
  return (
    <tr className={row} data-testid="document">
      <td className={`${cell} min-w-48 font-medium [overflow-wrap:anywhere]`}>{doc.title}</td>
      <td className={`${cell} min-w-40 text-xs [overflow-wrap:anywhere]`}>{doc.source ?? "–"}</td>
      <td className={`${cell} text-xs`}>{doc.content_type ?? doc.kind}</td>
      <td className={`${cell} tabular-nums`}>{doc.version}</td>
      <td className={`${cell} whitespace-nowrap tabular-nums`}>{bytes(doc.size_bytes)}</td>
      <td className={cell}>
        <span className={state === "ready" ? "text-emerald-700 dark:text-emerald-400" : state === "failed" ? "text-red-700 dark:text-red-300" : "text-sky-700 dark:text-sky-300"}>
          {t(`console.docs.phase.${state}`, { pct: 0 })}
        </span>
        {busy && doc.ingest.chunks_total ? <span className="block text-xs">{t("console.docs.chunks", { done: doc.ingest.chunks_done, total: doc.ingest.chunks_total })}</span> : null}
        {state === "failed" && doc.ingest.error && <span className="block text-xs text-red-700 dark:text-red-300">{doc.ingest.error}</span>}
      </td>
      <td className={`${cell} whitespace-nowrap`}>{dateTime(doc.created_at)}</td>
      <td className={cell}>
        {canWrite && (
          <div className="flex gap-2 whitespace-nowrap">
            <button type="button" className={btn.secondary} disabled={busy || reindex.isPending} onClick={() => reindex.mutate()}>
              {t("console.docs.reindex")}
            </button>
            <ConfirmButton
              label={t("console.docs.delete")}
              title={t("console.docs.deleteTitle", { title: doc.title })}
              body={t("console.docs.deleteBody")}
              disabled={remove.isPending}
              onConfirm={() => remove.mutate()}
            />
          </div>
        )}
      </td>
    </tr>
  );
}

const LIMIT = 50;

function DocumentTable() {
  const { t } = useTranslation();
  const { caller } = useAuth();
  const canWrite = allows(caller?.role, "analyst");
  const [offset, setOffset] = useState(0);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const docs = useQuery({
    queryKey: ["documents", offset],
    queryFn: ({ signal }) => api<DocumentList>("/documents", { signal, query: { limit: LIMIT, offset } }),
    refetchInterval: (query) => (query.state.data?.items.some((d) => d.ingest.status === "queued" || d.ingest.status === "processing") ? 2000 : false),
  });
  return (
    <Card title={t("console.docs.list")}>
      <div className="mb-2 space-y-2" aria-live="polite">
        {note && <Notice>{note}</Notice>}
        {error !== null && <ErrorNote error={error} />}
      </div>
      {docs.isPending && <Loading />}
      {docs.isError && <ErrorNote error={docs.error} />}
      {docs.isSuccess && docs.data.items.length === 0 && <p className={muted}>{t("console.ui.none")}</p>}
      {docs.isSuccess && docs.data.items.length > 0 && (
        <div className="overflow-x-auto">
          <table className="w-full text-left text-sm" data-testid="documents">
            <thead className={head}>
              <tr>
                <th className={cell}>{t("console.docs.docTitle")}</th>
                <th className={cell}>{t("console.docs.source")}</th>
                <th className={cell}>{t("console.docs.type")}</th>
                <th className={cell}>{t("console.docs.version")}</th>
                <th className={cell}>{t("console.docs.size")}</th>
                <th className={cell}>{t("console.docs.status")}</th>
                <th className={cell}>{t("console.docs.created")}</th>
                <th className={cell}>
                  <span className="sr-only">{t("console.ui.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {docs.data.items.map((doc) => (
                <DocumentRow
                  key={doc.item_id}
                  doc={doc}
                  canWrite={canWrite}
                  onDone={(n, e) => {
                    setNote(n);
                    setError(e);
                  }}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {docs.isSuccess && <Pager offset={offset} limit={LIMIT} total={docs.data.total} onChange={setOffset} />}
    </Card>
  );
}

export function Documents() {
  const { t } = useTranslation();
  const { caller } = useAuth();
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-semibold">{t("console.docs.title")}</h1>
      <p className={muted}>{t("console.docs.intro")}</p>
      {allows(caller?.role, "analyst") && <UploadPanel />}
      <DocumentTable />
    </div>
  );
}
