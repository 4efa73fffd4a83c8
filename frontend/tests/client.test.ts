import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, UnreachableError, api, storeKey } from "../src/api/client";
import { getConnection } from "../src/api/connection";
import { fakeApi } from "./render";

afterEach(() => vi.unstubAllGlobals());

describe("api client", () => {
  it("sends the stored key as X-API-Key and returns the JSON body", async () => {
    const seen: Headers[] = [];
    vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
      seen.push(new Headers(init?.headers));
      return fakeApi(() => ({ status: 200, body: { ok: 1 } }))(input, init);
    });
    storeKey("luna_secret");
    expect(await api<{ ok: number }>("/status/summary")).toEqual({ ok: 1 });
    expect(seen[0]?.get("X-API-Key")).toBe("luna_secret");
  });

  it("rejects with the API's own message and code", async () => {
    vi.stubGlobal("fetch", fakeApi(() => ({ status: 422, body: { error: { code: "invalid_input", message: "query.from: Field required", details: [] } } })));
    const error = await api("/kpis").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe("query.from: Field required");
    expect((error as ApiError).status).toBe(422);
  });

  it("reports an unreachable server and a 503 to the banner, and clears on success", async () => {
    vi.stubGlobal("fetch", fakeApi(() => "down"));
    await expect(api("/kpis")).rejects.toBeInstanceOf(UnreachableError);
    expect(getConnection().state).toBe("unreachable");
    vi.stubGlobal("fetch", fakeApi(() => ({ status: 503, body: { error: { code: "backend_unavailable", message: "the database is not answering" } } })));
    await expect(api("/kpis")).rejects.toBeInstanceOf(ApiError);
    expect(getConnection()).toEqual({ state: "unavailable", message: "the database is not answering" });
    vi.stubGlobal("fetch", fakeApi(() => ({ status: 200, body: {} })));
    await api("/kpis");
    expect(getConnection().state).toBe("ok");
  });

  it("treats statuses named in `accept` as data (readiness answers 503 with its parts)", async () => {
    vi.stubGlobal("fetch", fakeApi(() => ({ status: 503, body: { status: "not_ready", failing: ["vectors"], components: [] } })));
    expect(await api("/health/ready", { accept: [503] })).toMatchObject({ failing: ["vectors"] });
  });
});
