import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { storeKey } from "../src/api/client";
import { setConnection } from "../src/api/connection";
import { invalidFields } from "../src/pages/admin/helpers";
import { UploadList } from "../src/pages/admin/Documents";
import { MeterForm } from "../src/pages/admin/MetersAdmin";
import { fromIngest, uploadsReducer, type Upload } from "../src/pages/admin/uploads";
import { ApiError } from "../src/api/client";
import { fakeApi, renderApp, seriousViolations } from "./render";

const admin = { key_id: "k0", name: "admin-key", role: "admin", prefix: "luna_adm", created_at: "2026-01-01T00:00:00Z", roles_allowed: ["admin"] };
const key = (name: string, extra = {}) => ({ key_id: `id-${name}`, name, role: "viewer", prefix: "luna_x1", created_at: "2026-01-01T00:00:00Z", last_used_at: null, revoked_at: null, ...extra });

afterEach(() => {
  vi.unstubAllGlobals();
  setConnection({ state: "ok" });
});

describe("API keys", () => {
  it("shows the new token once, with a copy button and the warning, then never again", async () => {
    storeKey("luna_admin");
    const items = [key("ops")];
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    vi.stubGlobal(
      "fetch",
      fakeApi((url, init) => {
        if (url.pathname === "/auth/me") return { status: 200, body: admin };
        if (url.pathname === "/admin/keys" && init?.method === "POST") {
          const body = JSON.parse(String(init.body)) as { name: string; role: string };
          items.push(key(body.name, { role: body.role }));
          return { status: 201, body: { ...key(body.name, { role: body.role }), token: "luna_secret_token_123456" } };
        }
        if (url.pathname === "/admin/keys") return { status: 200, body: { items } };
        return { status: 404, body: { error: { code: "not_found", message: "no" } } };
      }),
    );
    const { container } = renderApp(<App />, { path: "/console/keys" });
    await userEvent.type(await screen.findByLabelText(/^Name$/), "grafana");
    await userEvent.selectOptions(screen.getByLabelText(/^Role$/), "analyst");
    await userEvent.click(screen.getByRole("button", { name: "Create key" }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByTestId("new-token")).toHaveTextContent("luna_secret_token_123456");
    expect(dialog).toHaveTextContent("you will not see it again");
    expect(await seriousViolations(container)).toEqual([]);
    await userEvent.click(within(dialog).getByRole("button", { name: "Copy" }));
    expect(writeText).toHaveBeenCalledWith("luna_secret_token_123456");
    expect(within(dialog).getByRole("button", { name: "Copied" })).toBeInTheDocument();
    await userEvent.click(within(dialog).getByRole("button", { name: "I have stored the key" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(container).not.toHaveTextContent("luna_secret_token_123456");
    expect(await screen.findByTestId("key-grafana")).toHaveTextContent("analyst");
    expect(screen.getByLabelText(/^Name$/)).toHaveValue("");
  });

  it("keeps the typed name and shows the API's message when the create fails", async () => {
    storeKey("luna_admin");
    vi.stubGlobal(
      "fetch",
      fakeApi((url, init) => {
        if (url.pathname === "/auth/me") return { status: 200, body: admin };
        if (url.pathname === "/admin/keys" && init?.method === "POST")
          return { status: 422, body: { error: { code: "invalid_input", message: "body.name: String should have at most 100 characters", details: [{ field: "body.name", message: "too long" }] } } };
        if (url.pathname === "/admin/keys") return { status: 200, body: { items: [] } };
        return { status: 404, body: { error: { code: "not_found", message: "no" } } };
      }),
    );
    renderApp(<App />, { path: "/console/keys" });
    const name = await screen.findByLabelText(/^Name$/);
    await userEvent.type(name, "a-very-long-name");
    await userEvent.click(screen.getByRole("button", { name: "Create key" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("body.name: String should have at most 100 characters");
    expect(name).toHaveValue("a-very-long-name");
    expect(name).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByRole("dialog")).toBeNull();
  });
});

describe("document uploads", () => {
  const base: Upload = { id: "u1", name: "manual.pdf", size: 2048, phase: "waiting", sent: 0 };

  it("moves each file through its phases (reducer)", () => {
    let state = uploadsReducer([], { type: "add", uploads: [base, { ...base, id: "u2", name: "b.md" }] });
    state = uploadsReducer(state, { type: "update", id: "u1", patch: { phase: "uploading", sent: 40 } });
    expect(state.map((u) => [u.name, u.phase, u.sent])).toEqual([["manual.pdf", "uploading", 40], ["b.md", "waiting", 0]]);
    const patch = fromIngest({ item_id: "d1", chunk_count: 0, ingest: { status: "failed", version: 1, chunks_done: 0, chunks_total: null, error: "the PDF is encrypted" } });
    state = uploadsReducer(state, { type: "update", id: "u2", patch });
    expect(state[1]).toMatchObject({ phase: "failed", message: "the PDF is encrypted", itemId: "d1" });
    state = uploadsReducer(state, { type: "clearFinished" });
    expect(state.map((u) => u.id)).toEqual(["u1"]);
  });

  it("shows progress and every file's result in the API's words", async () => {
    const uploads: Upload[] = [
      { ...base, phase: "uploading", sent: 40 },
      { ...base, id: "u2", name: "guide.md", phase: "processing", sent: 100, chunksDone: 3, chunksTotal: 10 },
      { ...base, id: "u3", name: "ok.txt", phase: "ready", sent: 100, chunksDone: 4, chunksTotal: 4 },
      { ...base, id: "u4", name: "locked.pdf", phase: "failed", sent: 100, message: "the PDF is encrypted: remove the password" },
      { ...base, id: "u5", name: "movie.mp4", phase: "error", sent: 100, status: 415, message: "unsupported content: video/mp4" },
    ];
    const { container } = renderApp(<UploadList uploads={uploads} />);
    const items = screen.getAllByTestId("upload");
    expect(items.map((li) => li.getAttribute("data-phase"))).toEqual(["uploading", "processing", "ready", "failed", "error"]);
    expect(items[0]).toHaveTextContent("uploading 40 %");
    expect(within(items[0] as HTMLElement).getByRole("progressbar")).toHaveAttribute("value", "40");
    expect(items[1]).toHaveTextContent("processing · 3 of 10 chunks");
    expect(items[2]).toHaveTextContent("ready · 4 of 4 chunks");
    expect(within(items[2] as HTMLElement).queryByRole("progressbar")).toBeNull(); // finished: the result, no bar
    expect(within(items[3] as HTMLElement).getByRole("alert")).toHaveTextContent("the PDF is encrypted: remove the password");
    expect(within(items[4] as HTMLElement).getByRole("alert")).toHaveTextContent("(415) unsupported content: video/mp4");
    expect(await seriousViolations(container)).toEqual([]);
  });
});

describe("form errors", () => {
  it("names the fields of error.details", () => {
    const error = new ApiError(422, "invalid_input", "x", [{ field: "body.interval_s" }, { field: "body.obis_map.1-0" }]);
    expect([...invalidFields(error)]).toEqual(["interval_s", "obis_map"]);
    expect(invalidFields(new ApiError(409, "conflict", "x", { field: "meter_id" })).has("meter_id")).toBe(true);
    expect(invalidFields(new Error("x")).size).toBe(0);
  });

  it("a refused meter edit: the API's message next to the form, the field marked, the typed values kept", async () => {
    storeKey("luna_admin");
    const message = "body.interval_s: Input should be greater than or equal to 1";
    vi.stubGlobal(
      "fetch",
      fakeApi((url, init) => {
        if (url.pathname === "/auth/me") return { status: 200, body: admin };
        if (url.pathname === "/meters/m1" && init?.method === "PATCH")
          return { status: 422, body: { error: { code: "invalid_input", message, details: [{ field: "body.interval_s", message: "Input should be greater than or equal to 1", type: "greater_than_equal" }] } } };
        return { status: 404, body: { error: { code: "not_found", message: "no" } } };
      }),
    );
    const meter = { meter_id: "m1", site: "plant", kind: "consumption" as const, timezone: "Europe/Berlin", interval_s: 900, lat: null, lon: null, obis_map: {}, created_at: "2026-01-01T00:00:00Z" };
    const onSaved = vi.fn();
    const { container } = renderApp(<MeterForm editing={meter} onSaved={onSaved} onCancel={() => undefined} />);
    const site = screen.getByLabelText("Site");
    await userEvent.clear(site);
    await userEvent.type(site, "north hall");
    const interval = screen.getByLabelText("Interval (s)");
    await userEvent.clear(interval);
    await userEvent.type(interval, "0");
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(message);
    await waitFor(() => expect(interval).toHaveAttribute("aria-invalid", "true"));
    expect(site).toHaveAttribute("aria-invalid", "false");
    expect(interval).toHaveValue(0);
    expect(site).toHaveValue("north hall");
    expect(onSaved).not.toHaveBeenCalled();
    expect(await seriousViolations(container)).toEqual([]);
  });
});
