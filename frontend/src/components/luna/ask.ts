// Asking Luna: POST /rag/ask with `stream: true` (Server-Sent Events: `citations`, `token`…, maybe
// `reset`, then `done` with the full answer). Errors before the stream starts are the API's JSON errors
// (ApiError, its message as is); a server that answers JSON instead of a stream is accepted as well.
import { ApiError, UnreachableError, getStoredKey } from "../../api/client";
import { setConnection } from "../../api/connection";
import type { components } from "../../api/schema";
import type { ChunkRef } from "./ChunkViewer";

export type Citation = components["schemas"]["Citation"];
export type AskOut = components["schemas"]["AskOut"];

export interface AskHandlers {
  onCitations?: (citations: Citation[]) => void;
  onToken?: (piece: string) => void;
  /** Tokens sent so far belong to a failed answer: drop them. */
  onReset?: () => void;
}

export interface SseEvent {
  event: string;
  data: string;
}

/** Splits an SSE buffer into complete events; returns them and the unfinished rest. */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const normalized = buffer.replace(/\r\n?/g, "\n");
  const blocks = normalized.split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) events.push({ event, data: data.join("\n") });
  }
  return { events, rest };
}

async function errorOf(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // not the API's JSON
  }
  const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
  if (error?.message) return new ApiError(response.status, error.code ?? "error", error.message, error.details);
  return new ApiError(response.status, "http_error", `HTTP ${response.status} ${response.statusText}`.trim());
}

export async function askLuna(
  question: string,
  conversationId: string | null,
  handlers: AskHandlers = {},
  signal?: AbortSignal,
): Promise<AskOut> {
  const headers: Record<string, string> = { Accept: "text/event-stream, application/json", "Content-Type": "application/json" };
  const key = getStoredKey();
  if (key) headers["X-API-Key"] = key;
  let response: Response;
  try {
    response = await fetch("/rag/ask", {
      method: "POST",
      headers,
      body: JSON.stringify({ question, conversation_id: conversationId, stream: true }),
      signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    setConnection({ state: "unreachable" });
    throw new UnreachableError();
  }
  if (!response.ok) {
    const error = await errorOf(response);
    setConnection(response.status === 503 ? { state: "unavailable", message: error.message } : { state: "ok" });
    throw error;
  }
  setConnection({ state: "ok" });
  const type = response.headers.get("Content-Type") ?? "";
  if (!type.includes("text/event-stream") || !response.body) {
    const out = (await response.json()) as AskOut;
    handlers.onCitations?.(out.citations);
    handlers.onToken?.(out.answer);
    return out;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buffer += decoder.decode(value, { stream: true });
    const parsed = parseSse(done ? `${buffer}\n\n` : buffer);
    buffer = parsed.rest;
    for (const { event, data } of parsed.events) {
      const payload: unknown = JSON.parse(data);
      if (event === "citations") handlers.onCitations?.(payload as Citation[]);
      else if (event === "token") handlers.onToken?.(payload as string);
      else if (event === "reset") handlers.onReset?.();
      else if (event === "done") return payload as AskOut;
      else if (event === "error") {
        const error = (payload as { error?: { code?: string; message?: string } }).error;
        throw new ApiError(500, error?.code ?? "error", error?.message ?? data);
      }
    }
    if (done) break;
  }
  throw new ApiError(502, "stream_ended", "The answer stream ended before it was complete.");
}

export type AnswerPart = { kind: "text"; text: string } | { kind: "cite"; n: number; citation: Citation | null };

/** The answer cut into text and citation marks: `[1]`, `[2, 3]` and `[1][2]` become links to sources. */
export function splitCitations(answer: string, citations: Citation[]): AnswerPart[] {
  const byN = new Map(citations.map((citation) => [citation.n, citation]));
  const parts: AnswerPart[] = [];
  const pattern = /\[(\d+(?:\s*,\s*\d+)*)\]/g;
  let last = 0;
  for (let match = pattern.exec(answer); match; match = pattern.exec(answer)) {
    const numbers = (match[1] ?? "").split(",").map((n) => Number(n.trim()));
    if (!numbers.every((n) => byN.has(n))) continue; // not a citation of this answer: leave the text as is
    if (match.index > last) parts.push({ kind: "text", text: answer.slice(last, match.index) });
    for (const n of numbers) parts.push({ kind: "cite", n, citation: byN.get(n) ?? null });
    last = match.index + match[0].length;
  }
  if (last < answer.length) parts.push({ kind: "text", text: answer.slice(last) });
  return parts;
}

/** What the passage viewer needs of a citation. */
export function citationRef(citation: Citation): ChunkRef {
  return {
    itemId: citation.item_id,
    chunkId: citation.chunk_id,
    title: citation.title,
    page: citation.page,
    section: citation.section,
    snippet: citation.snippet,
    n: citation.n,
  };
}
