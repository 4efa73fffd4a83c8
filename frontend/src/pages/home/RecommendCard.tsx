// "Recommended for you": POST /recommend with what Home knows (the page, the local time of day, the open
// alerts of the status summary Home already loads), the ranked actions and documents with their reason.
// A click is a telemetry click and opens the item's page; "dismiss" is a telemetry dismiss and hides
// it; thumbs up/down on the whole list is POST /feedback on the recommendation (docs/learning.md).
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { api } from "../../api/client";
import { track } from "../../api/telemetry";
import type { RecommendIn, RecommendItem, RecommendRead, StatusSummary } from "../../api/types";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { FeedbackVote, type VoteLabels } from "../../components/FeedbackVote";
import { num } from "../../format";
import "./i18n";
import { itemRef, localIso, reasonKey } from "./recommend";

function openAlerts(status: StatusSummary | undefined): number {
  return Object.values(status?.decisions.open_alerts ?? {}).reduce((sum, count) => sum + count, 0);
}

function ListVote({ recommendationId }: { recommendationId: string }) {
  const { t } = useTranslation();
  const labels: VoteLabels = {
    question: t("homeRecommend.question"),
    up: t("homeRecommend.up"),
    down: t("homeRecommend.down"),
    sending: t("homeRecommend.sending"),
    sentUp: t("homeRecommend.sentUp"),
    sentDown: t("homeRecommend.sentDown"),
  };
  return <FeedbackVote target="recommendation" id={recommendationId} labels={labels} testId="recommend-vote" />;
}

export function RecommendCard() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const status = useQuery({
    queryKey: ["status-summary"],
    queryFn: ({ signal }) => api<StatusSummary>("/status/summary", { signal }),
    refetchInterval: 30_000,
  });
  const alerts = openAlerts(status.data);
  const [hour] = useState(() => new Date().getHours());
  const recommend = useQuery({
    queryKey: ["recommend", "/", hour, alerts],
    queryFn: ({ signal }) => {
      const body: RecommendIn = { page: "/", at: localIso(new Date()), open_alerts: alerts, top_k: 5 };
      return api<RecommendRead>("/recommend", { method: "POST", body, signal });
    },
    enabled: !status.isPending, // the open alerts are part of the context: wait for them (or their error)
    staleTime: 10 * 60_000,
    refetchOnWindowFocus: false,
  });
  const data = recommend.data;
  const recommendationId = data?.recommendation_id;
  // Dismissed items of the recommendation shown (a new recommendation starts with none).
  const [dismissedOf, setDismissedOf] = useState<{ id: string | undefined; items: Set<string> }>({ id: undefined, items: new Set() });
  const dismissed = dismissedOf.id === recommendationId ? dismissedOf.items : new Set<string>();

  useEffect(() => {
    if (!data) return;
    data.items.forEach((item, rank) => track({ type: "view", ...itemRef(data, item), meta: { rank, arm: item.kind === "action" ? item.id : null } }));
    // One view per recommendation shown (not per render).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [recommendationId]);

  const visible = (data?.items ?? []).filter((item) => !dismissed.has(item.id));
  // The reason in the user's language from its code and values; English (the API's text) otherwise.
  const reason = (item: RecommendItem) => {
    const { key, values } = reasonKey(item, num);
    return t(key, { ...values, defaultValue: item.reason, interpolation: { escapeValue: false } });
  };
  const title = (item: RecommendItem) => (item.kind === "action" ? t(`homeRecommend.arms.${item.id}`, { defaultValue: item.title }) : item.title);

  function open(item: RecommendItem, rank: number) {
    if (!data) return;
    track({ type: "click", ...itemRef(data, item), meta: { rank, arm: item.kind === "action" ? item.id : null } });
    if (item.link) void navigate(item.link);
  }

  function dismiss(item: RecommendItem, rank: number) {
    if (!data) return;
    track({ type: "dismiss", ...itemRef(data, item), meta: { rank, arm: item.kind === "action" ? item.id : null } });
    setDismissedOf({ id: data.recommendation_id, items: new Set(dismissed).add(item.id) });
  }

  return (
    <Card
      title={t("homeRecommend.title")}
      className="lg:col-span-2"
      actions={data ? <span className="text-xs text-slate-600 dark:text-slate-400">{t("homeRecommend.policy", { policy: data.policy })}</span> : undefined}
    >
      <p className="mb-2 text-xs text-slate-600 dark:text-slate-400">{t("homeRecommend.intro")}</p>
      {recommend.isPending ? (
        <Loading />
      ) : recommend.isError ? (
        <ErrorNote error={recommend.error} />
      ) : recommend.data.items.length === 0 ? (
        <p className="text-sm">{t("homeRecommend.empty")}</p>
      ) : (
        <>
          {visible.length === 0 ? (
            <p className="text-sm">{t("homeRecommend.allDismissed")}</p>
          ) : (
            <ol className="space-y-2" data-testid="recommendations">
              {visible.map((item) => {
                const rank = recommend.data.items.indexOf(item);
                const name = title(item);
                return (
                  <li key={item.id} className="flex items-start gap-3 rounded border border-slate-200 p-2 text-sm dark:border-slate-800" data-testid="recommendation">
                    <span className="mt-0.5 w-5 shrink-0 text-right font-semibold tabular-nums text-slate-600 dark:text-slate-400">{rank + 1}.</span>
                    <div className="min-w-0 flex-1">
                      <button
                        type="button"
                        onClick={() => open(item, rank)}
                        className="text-left font-medium text-sky-700 underline hover:text-sky-900 dark:text-sky-300 dark:hover:text-sky-100"
                      >
                        {name}
                      </button>
                      {item.kind === "document" && <span className="ml-2 rounded bg-slate-100 px-1.5 py-0.5 text-xs dark:bg-slate-800">{t("homeRecommend.document")}</span>}
                      <p className="break-words text-xs text-slate-600 dark:text-slate-400" data-testid="recommendation-reason">
                        {reason(item)}
                      </p>
                    </div>
                    <button
                      type="button"
                      onClick={() => dismiss(item, rank)}
                      aria-label={t("homeRecommend.dismissLabel", { title: name })}
                      title={t("homeRecommend.dismiss")}
                      className="shrink-0 rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800"
                    >
                      {t("homeRecommend.dismiss")}
                    </button>
                  </li>
                );
              })}
            </ol>
          )}
          <ListVote key={recommend.data.recommendation_id} recommendationId={recommend.data.recommendation_id} />
        </>
      )}
    </Card>
  );
}
