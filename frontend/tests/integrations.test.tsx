import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { storeKey } from "../src/api/client";
import { setConnection } from "../src/api/connection";
import { fakeApi, renderApp, seriousViolations } from "./render";

const admin = { key_id: "k0", name: "admin-key", role: "admin", prefix: "luna_adm", created_at: "2026-01-01T00:00:00Z", roles_allowed: ["admin"] };
const hook = (name: string, extra = {}) => ({ webhook_id: `id-${name}`, name, url: `https://${name}.example.org/luna`, secret_hint: "whsec_ab", events: ["alert.raised", "rule.fired"], min_severity: null, sites: null, enabled: true, created_at: "2026-12-06T08:00:00Z", ...extra });
const deadLetter = { delivery_id: "d1", event_id: "e1", channel: "webhook:id-ops", webhook_id: "id-ops", topic: null, event_type: "alert.raised", payload: {}, status: "dead", attempts: 8, next_attempt_at: null, last_attempt_at: "2026-12-06T09:00:00Z", last_error: "HTTP 503 from the receiver", response_status: 503, created_at: "2026-12-06T08:30:00Z", delivered_at: null };
const off = {
  "/integrations/prices/sources": { items: [], schedule: { timezone: "Europe/Berlin", fetch_after: "13:00", cutoff: "18:00", retry_min: 15, backoff_max_min: 120 } },
  "/devices": { configured: false, config_path: "config/devices.yml", items: [] },
  "/dispatch": { enabled: false, publisher_connected: null, plan: null, current_step: null, setpoints: [], deviations: [], reading_deviations: [], latency: {} },
};

afterEach(() => {
  vi.unstubAllGlobals();
  setConnection({ state: "ok" });
});

describe("Admin → Integrations", () => {
  it("adds a webhook, shows its secret once, lists it; a failed delivery is sent again", async () => {
    storeKey("luna_admin");
    const hooks = [hook("ops")];
    const calls: string[] = [];
    vi.stubGlobal(
      "fetch",
      fakeApi((url, init) => {
        calls.push(`${init?.method ?? "GET"} ${url.pathname}${url.search}`);
        if (url.pathname === "/auth/me") return { status: 200, body: admin };
        if (url.pathname in off) return { status: 200, body: off[url.pathname as keyof typeof off] };
        if (url.pathname === "/integrations/webhooks" && init?.method === "POST") {
          const body = JSON.parse(String(init.body)) as { url: string; name: string; events: string[]; min_severity?: string };
          expect(body.events).toEqual(["alert.raised", "alert.resolved"]);
          expect(body.min_severity).toBe("warning");
          const created = hook(body.name, { url: body.url, events: body.events, min_severity: body.min_severity });
          hooks.push(created);
          return { status: 201, body: { ...created, secret: "whsec_0123456789abcdef" } };
        }
        if (url.pathname === "/integrations/webhooks") return { status: 200, body: { items: hooks, total: hooks.length } };
        if (url.pathname === "/integrations/webhooks/deliveries") return { status: 200, body: { items: [deadLetter], total: 1 } };
        if (url.pathname === "/integrations/webhooks/deliveries/d1/redeliver") return { status: 200, body: { ...deadLetter, status: "pending" } };
        return { status: 404, body: { error: { code: "not_found", message: "no" } } };
      }),
    );
    const { container } = renderApp(<App />, { path: "/console/integrations" });
    await waitFor(() => expect(screen.getByTestId("status-prices")).toHaveTextContent("off: no source configured"));
    await waitFor(() => expect(screen.getByTestId("status-devices")).toHaveTextContent("off: no device file"));
    await waitFor(() => expect(screen.getByTestId("status-dispatch")).toHaveTextContent("Dispatch (MQTT)off"));
    expect(await screen.findByTestId("webhook-ops")).toHaveTextContent("https://ops.example.org/luna");
    await userEvent.type(screen.getByLabelText(/^URL$/), "https://alerts.example.org/hook");
    await userEvent.type(screen.getByLabelText(/^Name$/), "alerts");
    await userEvent.selectOptions(screen.getByLabelText(/^Least severity$/), "warning");
    await userEvent.click(screen.getByRole("checkbox", { name: "rule.fired" }));
    await userEvent.click(screen.getByRole("button", { name: "Add webhook" }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByTestId("webhook-secret")).toHaveTextContent("whsec_0123456789abcdef");
    expect(await seriousViolations(container)).toEqual([]);
    await userEvent.click(within(dialog).getByRole("button", { name: "I have stored the secret" }));
    expect(container).not.toHaveTextContent("whsec_0123456789abcdef");
    expect(await screen.findByTestId("webhook-alerts")).toHaveTextContent("warning");
    const dead = screen.getByTestId("dead-letter");
    expect(dead).toHaveTextContent("HTTP 503 from the receiver");
    await userEvent.click(within(dead).getByRole("button", { name: "Redeliver" }));
    expect(calls).toContain("POST /integrations/webhooks/deliveries/d1/redeliver");
  });

  it("a refused webhook keeps what was typed and shows the API's message", async () => {
    storeKey("luna_admin");
    vi.stubGlobal(
      "fetch",
      fakeApi((url, init) => {
        if (url.pathname === "/auth/me") return { status: 200, body: admin };
        if (url.pathname in off) return { status: 200, body: off[url.pathname as keyof typeof off] };
        if (url.pathname === "/integrations/webhooks" && init?.method === "POST") {
          return { status: 422, body: { error: { code: "invalid_input", message: "body.url: the URL must start with http:// or https://", details: [{ field: "body.url", message: "bad" }] } } };
        }
        if (url.pathname === "/integrations/webhooks") return { status: 200, body: { items: [], total: 0 } };
        if (url.pathname === "/integrations/webhooks/deliveries") return { status: 200, body: { items: [], total: 0 } };
        return { status: 404, body: { error: { code: "not_found", message: "no" } } };
      }),
    );
    renderApp(<App />, { path: "/console/integrations" });
    expect(await screen.findByText(/No webhook yet/)).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText(/^URL$/), "ftp://files.example.org");
    await userEvent.click(screen.getByRole("button", { name: "Add webhook" }));
    expect(await screen.findByText("body.url: the URL must start with http:// or https://")).toBeInTheDocument();
    expect(screen.getByLabelText(/^URL$/)).toHaveValue("ftp://files.example.org");
    expect(screen.getByLabelText(/^URL$/)).toHaveAttribute("aria-invalid", "true");
  });
});
