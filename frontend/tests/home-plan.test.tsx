import { screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PlanCard } from "../src/pages/home/PlanCard";
import { fakeApi, renderApp } from "./render";

afterEach(() => vi.unstubAllGlobals());

describe("Home: next 24 h plan card", () => {
  it("shows the saving in € with the costs, the solver status and a link to the Playbook; the API's error as is", async () => {
    const body = { status: "optimal", savings_eur: 1.5, total_cost_eur: 10, baseline_cost_eur: 11.5, peak_import_kw: 4, solve_time_s: 0.01, notes: [], steps: [] };
    vi.stubGlobal("fetch", fakeApi((url, init) => (url.pathname === "/optimize/schedule" && init?.method === "POST" ? { status: 200, body } : { status: 404, body: { error: { code: "not_found", message: "no" } } })));
    const { unmount } = renderApp(<PlanCard site="sim" />);
    expect(await screen.findByTestId("home-plan-saving")).toHaveTextContent("€1.50");
    expect(screen.getByTestId("home-plan")).toHaveTextContent(/planned €10\.00 vs €11\.50 without flexibility/);
    expect(screen.getByTestId("home-plan")).toHaveTextContent(/optimal/);
    expect(screen.getByRole("link", { name: "Open in the Playbook" })).toHaveAttribute("href", "/playbook");
    expect(screen.getByText(/10 kWh battery/)).toBeInTheDocument();
    unmount();

    vi.stubGlobal("fetch", fakeApi(() => ({ status: 422, body: { error: { code: "infeasible", message: "plan infeasible: EV energy exceeds the window" } } })));
    renderApp(<PlanCard site="sim" />);
    expect(await screen.findByText(/plan infeasible: EV energy exceeds the window/)).toBeInTheDocument();
  });
});
