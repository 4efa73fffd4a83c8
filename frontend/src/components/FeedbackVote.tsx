// Thumbs up / down that POST /feedback for one answer or recommendation; a second click changes the
// vote (the API replaces the first). The caller gives the translated labels of its place.
import { useState } from "react";
import { api } from "../api/client";
import type { FeedbackIn, FeedbackRead } from "../api/types";
import { ErrorNote } from "./ErrorNote";
import { Thumb } from "./Thumb";

export interface VoteLabels {
  question: string;
  up: string;
  down: string;
  sending: string;
  sentUp: string;
  sentDown: string;
}

export function FeedbackVote({
  target,
  id,
  labels,
  testId,
}: {
  target: FeedbackIn["target"];
  id: string;
  labels: VoteLabels;
  testId: string;
}) {
  const [vote, setVote] = useState<boolean | null>(null);
  const [state, setState] = useState<"idle" | "sending" | "sent" | "failed">("idle");
  const [error, setError] = useState<unknown>(null);
  async function send(helpful: boolean) {
    setVote(helpful);
    setState("sending");
    setError(null);
    try {
      await api<FeedbackRead>("/feedback", { method: "POST", body: { target, id, helpful } });
      setState("sent");
    } catch (failure) {
      setState("failed");
      setError(failure);
    }
  }
  return (
    <div className="mt-2 flex flex-wrap items-center gap-2 border-t border-slate-200 pt-2 text-xs dark:border-slate-800" data-testid={testId}>
      <span className="text-slate-600 dark:text-slate-400">{labels.question}</span>
      {([true, false] as const).map((helpful) => (
        <button
          key={String(helpful)}
          type="button"
          aria-pressed={vote === helpful}
          disabled={state === "sending"}
          onClick={() => void send(helpful)}
          title={helpful ? labels.up : labels.down}
          aria-label={helpful ? labels.up : labels.down}
          className={`rounded border px-2 py-0.5 text-sm disabled:opacity-60 ${
            vote === helpful
              ? "border-sky-700 bg-sky-100 text-sky-950 dark:border-sky-300 dark:bg-sky-900 dark:text-sky-50"
              : "border-slate-300 hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800"
          }`}
        >
          <Thumb up={helpful} />
        </button>
      ))}
      <span role="status" className="text-slate-600 dark:text-slate-400" data-testid={`${testId}-state`}>
        {state === "sending" ? labels.sending : state === "sent" ? (vote ? labels.sentUp : labels.sentDown) : ""}
      </span>
      {state === "failed" && error != null && (
        <div className="w-full">
          <ErrorNote error={error} />
        </div>
      )}
    </div>
  );
}
