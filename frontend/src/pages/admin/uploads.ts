// Uploads of documents: one entry per file, from the bytes on the wire to the ingest's result.
import { ApiError, UnreachableError, api, getStoredKey, withQuery } from "../../api/client";
import type { DocumentDetail, DocumentIngested } from "./types";

export type Phase = "waiting" | "uploading" | "queued" | "processing" | "ready" | "failed" | "error";

export interface Upload {
  id: string;
  name: string;
  size: number;
  phase: Phase;
  /** 0..100 while the bytes go up */
  sent: number;
  itemId?: string;
  chunksDone?: number;
  chunksTotal?: number | null;
  duplicate?: boolean;
  /** the API's own words: the ingest's error (failed) or the refused request's message (error) */
  message?: string;
  status?: number;
}

export type UploadAction =
  | { type: "add"; uploads: Upload[] }
  | { type: "update"; id: string; patch: Partial<Upload> }
  | { type: "clearFinished" };

export const FINISHED: Phase[] = ["ready", "failed", "error"];

export function uploadsReducer(state: Upload[], action: UploadAction): Upload[] {
  switch (action.type) {
    case "add":
      return [...action.uploads, ...state];
    case "update":
      return state.map((u) => (u.id === action.id ? { ...u, ...action.patch } : u));
    case "clearFinished":
      return state.filter((u) => !FINISHED.includes(u.phase));
  }
}

/** The patch an ingest's state makes to an upload's entry. */
export function fromIngest(detail: Pick<DocumentDetail, "item_id" | "ingest" | "chunk_count">): Partial<Upload> {
  const ingest = detail.ingest;
  const phase: Phase = ingest.status;
  return {
    itemId: detail.item_id,
    phase,
    chunksDone: phase === "ready" ? detail.chunk_count : ingest.chunks_done,
    chunksTotal: phase === "ready" ? detail.chunk_count : ingest.chunks_total,
    message: ingest.error ?? undefined,
  };
}

/** POST /ingest/doc as multipart with upload progress (fetch cannot report it; XHR can). */
export function sendDocument(file: File, tags: string, onProgress: (percent: number) => void): Promise<DocumentIngested> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file, file.name);
    if (tags.trim()) form.append("tags", tags.trim());
    const xhr = new XMLHttpRequest();
    xhr.open("POST", withQuery("/ingest/doc"));
    xhr.setRequestHeader("Accept", "application/json");
    const key = getStoredKey();
    if (key) xhr.setRequestHeader("X-API-Key", key);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(Math.round((event.loaded / event.total) * 100));
    };
    xhr.onerror = () => reject(new UnreachableError());
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON: said below
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body as DocumentIngested);
      const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
      reject(
        error?.message
          ? new ApiError(xhr.status, error.code ?? "error", error.message, error.details)
          : new ApiError(xhr.status, "http_error", `HTTP ${xhr.status} ${xhr.statusText}`.trim()),
      );
    };
    xhr.send(form);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Upload one file and follow its ingest until ready or failed, reporting every step. */
export async function runUpload(
  file: File,
  tags: string,
  update: (patch: Partial<Upload>) => void,
  alive: () => boolean,
  pollMs = 1000,
): Promise<void> {
  update({ phase: "uploading", sent: 0 });
  let accepted: DocumentIngested;
  try {
    accepted = await sendDocument(file, tags, (sent) => update({ sent }));
  } catch (error) {
    update({ phase: "error", message: error instanceof Error ? error.message : String(error), status: error instanceof ApiError ? error.status : undefined });
    return;
  }
  update({ sent: 100, itemId: accepted.item_id, duplicate: accepted.duplicate, phase: accepted.duplicate ? "ready" : "queued", chunksDone: accepted.chunks, chunksTotal: accepted.chunks });
  if (accepted.duplicate) return;
  while (alive()) {
    try {
      const detail = await api<DocumentDetail>(`/documents/${accepted.item_id}`);
      const patch = fromIngest(detail);
      update(patch);
      if (patch.phase === "ready" || patch.phase === "failed") return;
    } catch (error) {
      if (error instanceof ApiError && error.status !== 503) {
        update({ phase: "error", message: error.message, status: error.status });
        return;
      }
      // unreachable or unavailable: the banner says so; keep polling
    }
    await sleep(pollMs);
  }
}
