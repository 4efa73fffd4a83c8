import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { storeKey } from "../src/api/client";
import { setConnection } from "../src/api/connection";
import { fakeApi, renderApp, seriousViolations } from "./render";

const caller = (role: string) => ({ key_id: "0b6f", name: `${role}-key`, role, prefix: "luna_abc", created_at: "2026-01-01T00:00:00Z", roles_allowed: [role] });
const summary = {
  version: "0.1.0", environment: "test", uptime_s: 3600, backends: [{ name: "database", kind: "sqlite", ok: true, required: true, detail: "", info: {} }],
  database: { kind: "sqlite", schema_revision: "abc", schema_head: "abc", timescaledb: false, hypertables: [], time_series_storage: "plain tables", row_counts: { meters: 4 } },
  knowledge: null, decisions: { rules: 5, rules_enabled: 5, open_alerts: {}, jobs: [{ job_id: "rollups", last_run_at: null }] },
};
const kpis = { consumption_kwh: 1234.5, production_kwh: 321, self_consumption_rate: 0.8, autarky_rate: 0.25, peak_load_kw: 42, net_cost_eur: 12.3, priced_share: 1, coverage: 1 };

function backend(role: string) {
  return fakeApi((url) => {
    if (url.pathname === "/auth/me") return { status: 200, body: caller(role) };
    if (url.pathname === "/meters") return { status: 200, body: { items: [{ meter_id: "m1", site: "sim", kind: "consumption" }], total: 1 } };
    if (url.pathname === "/kpis") return { status: 200, body: kpis };
    if (url.pathname === "/status/summary") return { status: 200, body: summary };
    if (url.pathname === "/alerts") return { status: 200, body: { items: [{ alert_id: "a1", severity: "warning", message: "Import near the peak", meter_id: "m1", start_at: "2026-01-01T10:00:00Z" }], total: 1 } };
    if (url.pathname === "/timeseries/readings") return { status: 200, body: { meter_id: "m1", timezone: "UTC", points: [] } };
    if (url.pathname === "/timeseries/readings/latest") return { status: 200, body: { ts: "2026-01-01T10:00:00Z", consumption_kw: 3.5, voltage: 230 } };
    return { status: 404, body: { error: { code: "not_found", message: `no route ${url.pathname}` } } };
  });
}

afterEach(() => {
  vi.unstubAllGlobals();
  setConnection({ state: "ok" });
});

describe("sign-in", () => {
  it("shows the API's message for a wrong key, and has no serious axe violations", async () => {
    vi.stubGlobal("fetch", fakeApi(() => ({ status: 401, body: { error: { code: "unauthenticated", message: "invalid API key" } } })));
    const { container } = renderApp(<App />, { path: "/" });
    await userEvent.type(await screen.findByLabelText(/API key|API-Schlüssel/), "luna_wrong");
    await userEvent.click(screen.getByRole("button", { name: /Sign in|Anmelden/ }));
    expect(await screen.findByRole("alert")).toHaveTextContent("invalid API key");
    expect(sessionStorage.getItem("luna.apiKey")).toBeNull();
    expect(await seriousViolations(container)).toEqual([]);
  });

  it("shows the banner, not a blank page, when the server is down", async () => {
    vi.stubGlobal("fetch", fakeApi(() => "down"));
    renderApp(<App />, { path: "/" });
    await userEvent.type(await screen.findByLabelText(/API key|API-Schlüssel/), "luna_any");
    await userEvent.click(screen.getByRole("button", { name: /Sign in|Anmelden/ }));
    expect(await screen.findByRole("alert")).toHaveTextContent(/cannot be reached|nicht erreichbar/);
  });
});

describe("navigation follows the role", () => {
  it("a viewer sees no admin pages and no write buttons", async () => {
    storeKey("luna_viewer");
    vi.stubGlobal("fetch", backend("viewer"));
    const { container } = renderApp(<App />, { path: "/" });
    expect(await screen.findByText("Import near the peak")).toBeInTheDocument();
    expect(screen.queryByTestId("admin-nav")).toBeNull();
    expect(screen.queryByRole("button", { name: /Acknowledge|Bestätigen/ })).toBeNull();
    expect(await screen.findByText(/1[,.]234[,.]5 kWh/)).toBeInTheDocument();
    expect(await seriousViolations(container)).toEqual([]);
  });

  it("an admin sees the admin console and the write buttons", async () => {
    storeKey("luna_admin");
    vi.stubGlobal("fetch", backend("admin"));
    renderApp(<App />, { path: "/" });
    expect(await screen.findByTestId("admin-nav")).toBeInTheDocument();
    expect(await screen.findByRole("button", { name: /Acknowledge|Bestätigen/ })).toBeInTheDocument();
  });

  it("a viewer opening an admin page by URL is told which role it needs", async () => {
    storeKey("luna_viewer");
    vi.stubGlobal("fetch", backend("viewer"));
    renderApp(<App />, { path: "/console/system" });
    await waitFor(() => expect(screen.getByRole("alert")).toHaveTextContent(/admin/i));
  });
});
