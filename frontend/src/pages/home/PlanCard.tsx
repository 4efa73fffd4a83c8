import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api } from "../../api/client";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { euro, withUnit } from "../../format";
import i18n from "../../i18n";
import { PLAN, planRequest, type Schedule } from "../playbook/data";
import "./i18n";
import { browserTz } from "../../links";
import { planStart } from "./linkParams";

const dayName = (day: string) =>
  new Intl.DateTimeFormat(i18n.language?.startsWith("de") ? "de-DE" : "en-GB", { timeZone: "UTC", weekday: "short", day: "numeric", month: "short", year: "numeric" }).format(new Date(`${day}T12:00:00Z`));

/** The optimiser's plan for the next 24 h in one line (same request and cache as the Playbook's plan);
 * with `day` (a link from Luna: /?site=…&day=…) the plan of that local day instead. */
export function PlanCard({ site, day = null, tz = browserTz() }: { site: string; day?: string | null; tz?: string }) {
  const { t } = useTranslation();
  const plan = useQuery({
    queryKey: day ? ["playbook", "plan", site, day, tz] : ["playbook", "plan", site],
    queryFn: ({ signal }) => api<Schedule>("/optimize/schedule", { method: "POST", body: planRequest(site, day ? planStart(day, tz) : undefined), signal }),
    staleTime: 5 * 60_000,
  });
  return (
    <Card title={day ? t("homePlan.titleDay", { day: dayName(day) }) : t("homePlan.title")} className="lg:col-span-2" actions={<Link className="text-sm text-sky-700 underline dark:text-sky-300" to="/playbook">{t("homePlan.link")}</Link>}>
      {plan.isPending ? (
        <Loading />
      ) : plan.isError ? (
        <ErrorNote error={plan.error} />
      ) : (
        <div data-testid="home-plan">
          <p className="text-sm">
            {t("homePlan.saving")} <span className="text-xl font-semibold tabular-nums" data-testid="home-plan-saving">{euro(plan.data.savings_eur)}</span>{" "}
            <span className="tabular-nums">{t("homePlan.costs", { planned: euro(plan.data.total_cost_eur), baseline: euro(plan.data.baseline_cost_eur) })}</span>
          </p>
          <p className="text-sm">{t("homePlan.status", { status: plan.data.status, time: withUnit(plan.data.solve_time_s, "s", 2) })}</p>
        </div>
      )}
      <p className="mt-2 text-xs text-slate-600 dark:text-slate-400">{t("homePlan.planHint", { capacity: PLAN.capacityKwh, power: PLAN.powerKw, ev: PLAN.evKwh, evPower: PLAN.evPowerKw })}</p>
    </Card>
  );
}
