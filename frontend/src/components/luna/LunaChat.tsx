// Luna's chat: a question box, the answer streamed as it comes (a typing indicator until the first
// words), citations [1], [2] … that open the cited passage, the API's error messages as they are (the
// question stays in the box), and follow-ups in the same conversation (the API's conversation_id).
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { track } from "../../api/telemetry";
import { ErrorNote } from "../ErrorNote";
import { FeedbackVote, type VoteLabels } from "../FeedbackVote";
import { askLuna, citationRef, splitCitations, type Citation } from "./ask";
import { ChunkViewer, type ChunkRef } from "./ChunkViewer";
import "./i18n";

interface Turn {
  id: number;
  question: string;
  answer: string;
  citations: Citation[];
  done: boolean;
  generator?: string;
  foundRelevant?: boolean;
  /** The id POST /feedback takes (null: the answer was not stored, e.g. a refusal before retrieval). */
  answerId?: number | null;
}

function where(citation: Citation, t: (key: string, options?: Record<string, unknown>) => string): string {
  return [citation.page != null ? t("luna.chat.page", { page: citation.page }) : null, citation.section].filter(Boolean).join(" · ");
}

function Answer({ turn, onOpen }: { turn: Turn; onOpen: (citation: Citation) => void }) {
  const { t } = useTranslation();
  const parts = splitCitations(turn.answer, turn.citations);
  return (
    <div className="whitespace-pre-wrap break-words" data-testid="luna-answer">
      {parts.map((part, index) =>
        part.kind === "text" ? (
          <span key={index}>{part.text}</span>
        ) : (
          <button
            key={index}
            type="button"
            onClick={() => part.citation && onOpen(part.citation)}
            aria-label={t("luna.chat.source", { n: part.n, title: part.citation?.title ?? "" })}
            title={part.citation?.title}
            className="mx-0.5 rounded px-0.5 align-baseline text-sm font-semibold text-sky-700 underline hover:bg-sky-100 dark:text-sky-300 dark:hover:bg-sky-900"
          >
            [{part.n}]
          </button>
        ),
      )}
    </div>
  );
}

/** Thumbs up / down under an answer: POST /feedback with its answer_id. */
function Vote({ answerId }: { answerId: number }) {
  const { t } = useTranslation();
  const labels: VoteLabels = {
    question: t("luna.vote.question"),
    up: t("luna.vote.up"),
    down: t("luna.vote.down"),
    sending: t("luna.vote.sending"),
    sentUp: t("luna.vote.sentUp"),
    sentDown: t("luna.vote.sentDown"),
  };
  return <FeedbackVote target="answer" id={String(answerId)} labels={labels} testId="luna-vote" />;
}

function Typing() {
  const { t } = useTranslation();
  return (
    <p role="status" className="flex items-center gap-1 text-sm text-slate-600 dark:text-slate-400" data-testid="luna-typing">
      <span>{t("luna.chat.typing")}</span>
      <span aria-hidden="true" className="inline-flex gap-0.5">
        <span className="h-1.5 w-1.5 animate-bounce rounded-full bg-current" />
        <span className="h-1.5 w-1.5 animate-bounce rounded-full bg-current [animation-delay:150ms]" />
        <span className="h-1.5 w-1.5 animate-bounce rounded-full bg-current [animation-delay:300ms]" />
      </span>
    </p>
  );
}

export function LunaChat({ compact = false }: { compact?: boolean }) {
  const { t } = useTranslation();
  const inputId = useId();
  const [question, setQuestion] = useState("");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [conversationId, setConversationId] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState<ChunkRef | null>(null);
  const abort = useRef<AbortController | null>(null);
  const nextId = useRef(1);
  const opened = useRef<{ itemId: string; at: number } | null>(null);
  const queryClient = useQueryClient();

  useEffect(() => () => abort.current?.abort(), []);

  const update = useCallback((id: number, change: (turn: Turn) => Turn) => {
    setTurns((all) => all.map((turn) => (turn.id === id ? change(turn) : turn)));
  }, []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const text = question.trim();
    if (!text || busy) return;
    const id = nextId.current++;
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setError(null);
    setBusy(true);
    setTurns((all) => [...all, { id, question: text, answer: "", citations: [], done: false }]);
    try {
      const out = await askLuna(
        text,
        conversationId,
        {
          onCitations: (citations) => update(id, (turn) => ({ ...turn, citations })),
          onToken: (piece) => update(id, (turn) => ({ ...turn, answer: turn.answer + piece })),
          onReset: () => update(id, (turn) => ({ ...turn, answer: "" })),
        },
        controller.signal,
      );
      update(id, (turn) => ({
        ...turn,
        answer: out.answer,
        citations: out.citations,
        done: true,
        generator: out.generator,
        foundRelevant: out.found_relevant,
        answerId: out.answer_id ?? null,
      }));
      if (out.answer_id != null) track({ type: "view", item_kind: "answer", item_id: String(out.answer_id), meta: { citations: out.citations.length } });
      setConversationId(out.conversation_id);
      void queryClient.invalidateQueries({ queryKey: ["memory"] }); // the conversation is remembered now
      setQuestion(""); // answered: the box is free for the next question
    } catch (failure) {
      if (failure instanceof DOMException && failure.name === "AbortError") return;
      setTurns((all) => all.filter((turn) => turn.id !== id)); // the question stays in the box
      setError(failure);
    } finally {
      if (abort.current === controller) setBusy(false);
    }
  }

  function restart() {
    abort.current?.abort();
    setBusy(false);
    setTurns([]);
    setConversationId(null);
    setError(null);
  }

  const openCitation = (citation: Citation) => {
    track({ type: "click", item_kind: "document", item_id: citation.item_id, meta: { rank: citation.n } });
    opened.current = { itemId: citation.item_id, at: Date.now() };
    setOpen(citationRef(citation));
  };
  const close = useCallback(() => {
    const was = opened.current;
    opened.current = null;
    if (was) track({ type: "dwell", item_kind: "document", item_id: was.itemId, duration_ms: Date.now() - was.at });
    setOpen(null);
  }, []);

  return (
    <div className="space-y-3" data-testid="luna-chat">
      {!compact && <p className="text-sm text-slate-700 dark:text-slate-300">{t("luna.chat.intro")}</p>}
      {turns.length > 0 && (
        <div role="log" aria-label={t("luna.chat.title")} className={compact ? "max-h-96 overflow-y-auto pr-1" : ""}>
          <ol className="space-y-3">
            {turns.map((turn) => (
              <li key={turn.id} className="space-y-2" data-testid="luna-turn">
                <p className="ml-auto w-fit max-w-[90%] rounded-lg bg-sky-100 px-3 py-2 text-sm text-sky-950 dark:bg-sky-900 dark:text-sky-50">
                  <span className="sr-only">{t("luna.chat.you")}: </span>
                  {turn.question}
                </p>
                <div className="max-w-full rounded-lg border border-slate-200 px-3 py-2 text-sm dark:border-slate-800">
                  <span className="sr-only">{t("luna.chat.luna")}: </span>
                  {turn.answer === "" && !turn.done ? <Typing /> : <Answer turn={turn} onOpen={openCitation} />}
                  {turn.citations.length > 0 && (turn.done || turn.answer !== "") && (
                    <div className="mt-2 border-t border-slate-200 pt-2 dark:border-slate-800">
                      <p className="text-xs font-semibold uppercase tracking-wide text-slate-600 dark:text-slate-400">{t("luna.chat.sources")}</p>
                      <ul className="mt-1 space-y-1" data-testid="luna-sources">
                        {turn.citations.map((citation) => (
                          <li key={citation.n} className="text-xs">
                            <button
                              type="button"
                              onClick={() => openCitation(citation)}
                              className="text-left text-sky-700 underline hover:text-sky-900 dark:text-sky-300 dark:hover:text-sky-100"
                            >
                              [{citation.n}] {citation.title}
                            </button>
                            {where(citation, t) && <span className="text-slate-600 dark:text-slate-400"> · {where(citation, t)}</span>}
                          </li>
                        ))}
                      </ul>
                    </div>
                  )}
                  {turn.done && turn.answerId != null && <Vote answerId={turn.answerId} />}
                </div>
              </li>
            ))}
          </ol>
        </div>
      )}
      {error != null && <ErrorNote error={error} />}
      <form onSubmit={(event) => void submit(event)} className="space-y-2">
        <label htmlFor={inputId} className="block text-sm font-medium">
          {t("luna.chat.question")}
        </label>
        <textarea
          id={inputId}
          value={question}
          onChange={(event) => setQuestion(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === "Enter" && !event.shiftKey) {
              event.preventDefault();
              event.currentTarget.form?.requestSubmit();
            }
          }}
          rows={compact ? 2 : 3}
          maxLength={4000}
          placeholder={t("luna.chat.placeholder")}
          className="block w-full resize-y rounded border border-slate-300 bg-white px-3 py-2 text-sm placeholder:text-slate-500 dark:border-slate-700 dark:bg-slate-950 dark:placeholder:text-slate-400"
        />
        <div className="flex flex-wrap items-center gap-2">
          <button
            type="submit"
            disabled={busy || question.trim() === ""}
            className="rounded bg-sky-700 px-3 py-1.5 text-sm font-semibold text-white hover:bg-sky-800 disabled:opacity-60"
          >
            {busy ? t("luna.chat.asking") : t("luna.chat.ask")}
          </button>
          {turns.length > 0 && (
            <button
              type="button"
              onClick={restart}
              className="rounded border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800"
            >
              {t("luna.chat.newConversation")}
            </button>
          )}
          {conversationId && <span className="text-xs text-slate-600 dark:text-slate-400">{t("luna.chat.continuing")}</span>}
        </div>
      </form>
      {open && <ChunkViewer target={open} onClose={close} />}
    </div>
  );
}
