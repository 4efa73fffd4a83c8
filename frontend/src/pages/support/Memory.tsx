// "What Luna remembers": the calling key's memory (GET /memory: site, preferences, conversations), edited
// with PUT /memory, forgotten with DELETE /memory, a conversation deleted with DELETE /conversations/{id};
// every delete asks first. The API keeps this per key: nobody else (not even an admin) sees it here.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import type { MemoryRead, MemoryUpdate } from "../../api/types";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import "../../components/luna/i18n";
import { dateTime } from "../../format";

const button = "rounded border border-slate-300 px-2 py-1 text-xs hover:bg-slate-100 disabled:opacity-60 dark:border-slate-700 dark:hover:bg-slate-800";
const danger =
  "rounded border border-red-600 px-2 py-1 text-xs text-red-800 hover:bg-red-50 disabled:opacity-60 dark:border-red-400 dark:text-red-200 dark:hover:bg-red-950";
const dangerSolid = "rounded bg-red-700 px-2 py-1 text-xs font-semibold text-white hover:bg-red-800 disabled:opacity-60";
const field = "mt-1 block w-full rounded border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950";

/** A delete that asks first, in place: the question, then "delete" or "cancel" (focus on cancel). */
function ConfirmDelete({ label, question, onConfirm, disabled }: { label: string; question: string; onConfirm: () => void; disabled?: boolean }) {
  const { t } = useTranslation();
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" className={danger} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span role="group" aria-label={question} className="inline-flex flex-wrap items-center gap-2 rounded border border-red-300 bg-red-50 px-2 py-1 text-xs text-red-950 dark:border-red-700 dark:bg-red-950 dark:text-red-50">
      <span>{question}</span>
      <button
        type="button"
        className={dangerSolid}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {label}
      </button>
      <button type="button" className={button} autoFocus onClick={() => setAsking(false)}>
        {t("luna.memory.cancel")}
      </button>
    </span>
  );
}

function EditForm({ memory, onDone }: { memory: MemoryRead; onDone: () => void }) {
  const { t } = useTranslation();
  const id = useId();
  const client = useQueryClient();
  const [site, setSite] = useState(memory.site ?? "");
  const [preferences, setPreferences] = useState(memory.preferences.join("\n"));
  const save = useMutation({
    mutationFn: (body: MemoryUpdate) => api<MemoryRead>("/memory", { method: "PUT", body }),
    onSuccess: (data) => {
      client.setQueryData(["memory"], data);
      onDone();
    },
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    const lines = preferences
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean);
    save.mutate({ site: site.trim() || null, preferences: lines });
  }
  return (
    <form onSubmit={submit} className="space-y-2" data-testid="memory-form">
      <div>
        <label htmlFor={`${id}-site`} className="block text-sm font-medium">
          {t("luna.memory.site")}
        </label>
        <input id={`${id}-site`} value={site} maxLength={200} onChange={(event) => setSite(event.target.value)} className={field} />
        <p className="mt-1 text-xs text-slate-600 dark:text-slate-400">{t("luna.memory.siteHelp")}</p>
      </div>
      <div>
        <label htmlFor={`${id}-prefs`} className="block text-sm font-medium">
          {t("luna.memory.preferences")}
        </label>
        <textarea id={`${id}-prefs`} rows={4} value={preferences} onChange={(event) => setPreferences(event.target.value)} className={field} />
        <p className="mt-1 text-xs text-slate-600 dark:text-slate-400">{t("luna.memory.preferencesHelp")}</p>
      </div>
      {save.isError && <ErrorNote error={save.error} />}
      <div className="flex gap-2">
        <button type="submit" disabled={save.isPending} className="rounded bg-sky-700 px-3 py-1.5 text-sm font-semibold text-white hover:bg-sky-800 disabled:opacity-60">
          {save.isPending ? t("luna.memory.saving") : t("luna.memory.save")}
        </button>
        <button type="button" onClick={onDone} className="rounded border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800">
          {t("luna.memory.cancel")}
        </button>
      </div>
    </form>
  );
}

export function MemoryPanel() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const memory = useQuery({ queryKey: ["memory"], queryFn: ({ signal }) => api<MemoryRead>("/memory", { signal }) });
  const forget = useMutation({
    mutationFn: () => api<null>("/memory", { method: "DELETE" }),
    onSuccess: () => {
      setNotice(t("luna.memory.forgotten"));
      void client.invalidateQueries({ queryKey: ["memory"] });
    },
  });
  const remove = useMutation({
    mutationFn: (conversationId: string) => api<null>(`/conversations/${conversationId}`, { method: "DELETE" }),
    onSuccess: () => {
      setNotice(t("luna.memory.conversationDeleted"));
      void client.invalidateQueries({ queryKey: ["memory"] });
    },
  });
  return (
    <Card title={t("luna.memory.title")}>
      <div className="space-y-3 text-sm" data-testid="memory">
        <p className="text-xs text-slate-600 dark:text-slate-400">{t("luna.memory.intro")}</p>
        {notice && (
          <p role="status" className="rounded border border-emerald-600 bg-emerald-50 px-3 py-1.5 text-xs text-emerald-900 dark:border-emerald-500 dark:bg-emerald-950 dark:text-emerald-100">
            {notice}
          </p>
        )}
        {memory.isPending ? (
          <Loading />
        ) : memory.isError ? (
          <ErrorNote error={memory.error} />
        ) : editing ? (
          <EditForm memory={memory.data} onDone={() => setEditing(false)} />
        ) : (
          <>
            <dl className="grid grid-cols-[auto_1fr] gap-x-4 gap-y-1">
              <dt className="text-slate-600 dark:text-slate-400">{t("luna.memory.site")}</dt>
              <dd data-testid="memory-site">{memory.data.site ?? <span className="text-slate-600 dark:text-slate-400">{t("luna.memory.notSet")}</span>}</dd>
              <dt className="text-slate-600 dark:text-slate-400">{t("luna.memory.preferences")}</dt>
              <dd data-testid="memory-preferences">
                {memory.data.preferences.length === 0 ? (
                  <span className="text-slate-600 dark:text-slate-400">{t("luna.memory.none")}</span>
                ) : (
                  <ul className="list-inside list-disc">
                    {memory.data.preferences.map((preference, index) => (
                      <li key={index} className="break-words">
                        {preference}
                      </li>
                    ))}
                  </ul>
                )}
              </dd>
              <dt className="text-slate-600 dark:text-slate-400">{t("luna.memory.updated")}</dt>
              <dd>{memory.data.updated_at ? dateTime(memory.data.updated_at) : t("luna.memory.never")}</dd>
            </dl>
            <button type="button" className={button} onClick={() => { setNotice(null); setEditing(true); }}>
              {t("luna.memory.edit")}
            </button>
            <div>
              <h3 className="mb-1 font-semibold">{t("luna.memory.conversations", { count: memory.data.conversations_total })}</h3>
              {memory.data.conversations.length === 0 ? (
                <p className="text-slate-600 dark:text-slate-400">{t("luna.memory.noConversations")}</p>
              ) : (
                <ul className="space-y-1" data-testid="memory-conversations">
                  {memory.data.conversations.map((conversation) => (
                    <li key={conversation.conversation_id} className="flex flex-wrap items-center justify-between gap-2 border-t border-slate-200 py-1 dark:border-slate-800">
                      <span className="min-w-0 flex-1">
                        {conversation.first_question && <span className="block truncate font-medium" data-testid="conversation-title" title={conversation.first_question}>{conversation.first_question}</span>}
                        {dateTime(conversation.updated_at)} <span className="text-slate-600 dark:text-slate-400">· {t("luna.memory.turns", { count: conversation.turns })}</span>
                      </span>
                      <ConfirmDelete
                        label={t("luna.memory.deleteConversation")}
                        question={t("luna.memory.deleteConversationQuestion")}
                        disabled={remove.isPending}
                        onConfirm={() => remove.mutate(conversation.conversation_id)}
                      />
                    </li>
                  ))}
                </ul>
              )}
            </div>
            {(remove.isError || forget.isError) && <ErrorNote error={remove.error ?? forget.error} />}
            <div className="border-t border-slate-200 pt-2 dark:border-slate-800">
              <ConfirmDelete label={t("luna.memory.forget")} question={t("luna.memory.forgetQuestion")} disabled={forget.isPending} onConfirm={() => forget.mutate()} />
            </div>
          </>
        )}
      </div>
    </Card>
  );
}
