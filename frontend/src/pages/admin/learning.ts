// Helpers of the Privacy & learning section (apart from the components: fast refresh, tests).
import type { BudgetLedgerRead, BudgetRead } from "./types";

/** "YYYY-MM" of `date` in UTC: the ledger of its calendar month. */
export function monthLedger(date: Date): string {
  return date.toISOString().slice(0, 7);
}

/** The API's ledgers with this month's added (spent 0) when nothing has charged it yet; months first. */
export function ledgersWithCurrent(budget: BudgetRead, now: Date): BudgetLedgerRead[] {
  const current = monthLedger(now);
  const ledgers = [...budget.ledgers];
  if (!ledgers.some((ledger) => ledger.ledger === current)) ledgers.push({ ledger: current, epsilon_spent: 0, epsilon_remaining: budget.epsilon_budget });
  return ledgers.sort((a, b) => (a.ledger === "bandit" ? 1 : b.ledger === "bandit" ? -1 : b.ledger.localeCompare(a.ledger)));
}
