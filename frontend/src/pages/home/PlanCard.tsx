import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api } from "../../api/client";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { euro, withUnit } from "../../format";
import { PLAN, planRequest, type Schedule } from "../playbook/data";
import "./i18n";

/** The optimiser's plan for the next 24 h in one line (same request and cache as the Playbook's plan). */
export function PlanCard({ site }: { site: string }) {
  const { t } = useTranslation();
  const plan = useQuery({
    queryKey: ["playbook", "plan", site],
    queryFn: ({ signal }) => api<Schedule>("/optimize/schedule", { method: "POST", body: planRequest(site), signal }),
    staleTime: 5 * 60_000,
  });
  return (
    <Card title={t("homePlan.title")} className="lg:col-span-2" actions={<Link className="text-sm text-sky-700 underline dark:text-sky-300" to="/playbook">{t("homePlan.link")}</Link>}>
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
