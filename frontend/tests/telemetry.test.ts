import { afterEach, describe, expect, it, vi } from "vitest";
import { storeKey } from "../src/api/client";
import { KEEPALIVE_BATCH, MAX_BATCH, Telemetry, newEventId, sendEvents, type SendResult } from "../src/api/telemetry";
import type { EventIn } from "../src/api/types";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function recorder(results: SendResult[] = []) {
  const batches: { events: EventIn[]; keepalive: boolean }[] = [];
  const send = vi.fn(async (events: EventIn[], keepalive: boolean) => {
    batches.push({ events, keepalive });
    return results.shift() ?? "sent";
  });
  return { batches, send };
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("telemetry batching", () => {
  it("gives each event its own UUID and an ISO time with offset; no user, only the page path", async () => {
    const { batches, send } = recorder();
    const telemetry = new Telemetry({ send, now: () => new Date("2026-12-06T10:15:00Z") });
    const first = telemetry.track({ type: "click", item_kind: "document", item_id: "doc-1", meta: { rank: 2 } });
    const second = telemetry.track({ type: "dwell", item_kind: "document", item_id: "doc-1", duration_ms: 4200.4 });
    expect(first).toMatch(UUID);
    expect(second).not.toBe(first);
    expect(telemetry.pending).toBe(2);
    await telemetry.flush();
    expect(batches).toHaveLength(1);
    const [click, dwell] = batches[0]?.events ?? [];
    expect(click).toEqual({ event_id: first, ts: "2026-12-06T10:15:00.000Z", type: "click", item_kind: "document", item_id: "doc-1", page: "/", meta: { rank: 2 } });
    expect(dwell).toMatchObject({ type: "dwell", duration_ms: 4200 });
    expect(click).not.toHaveProperty("user");
    expect(click).not.toHaveProperty("duration_ms");
    expect(telemetry.pending).toBe(0);
  });

  it("sends at most 1000 events per request, and a full queue at once", async () => {
    const { batches, send } = recorder();
    const telemetry = new Telemetry({ send });
    for (let i = 0; i < MAX_BATCH - 1; i++) telemetry.track({ type: "view", item_kind: "answer", item_id: String(i) });
    expect(send).not.toHaveBeenCalled();
    telemetry.track({ type: "view", item_kind: "answer", item_id: "last" }); // the 1000th: sent now
    await telemetry.flush();
    expect(batches.map((b) => b.events.length)).toEqual([MAX_BATCH]);
    for (let i = 0; i < 2500; i++) telemetry.track({ type: "view", item_kind: "answer", item_id: String(i) });
    await telemetry.flush();
    expect(batches.every((b) => b.events.length <= MAX_BATCH)).toBe(true);
    expect(batches.reduce((sum, b) => sum + b.events.length, 0)).toBe(3500);
  });

  it("keeps events when the server does not answer and sends them (same ids) next time; drops refused ones", async () => {
    const { batches, send } = recorder(["retry", "sent", "drop"]);
    const telemetry = new Telemetry({ send });
    const id = telemetry.track({ type: "like", item_kind: "answer", item_id: "7" });
    await telemetry.flush();
    expect(telemetry.pending).toBe(1);
    await telemetry.flush();
    expect(telemetry.pending).toBe(0);
    expect(batches.map((b) => b.events[0]?.event_id)).toEqual([id, id]);
    telemetry.track({ type: "like", item_kind: "answer", item_id: "8" });
    await telemetry.flush(); // refused (422): sending it again would not help
    expect(telemetry.pending).toBe(0);
  });

  it("flushes on its interval and, with keepalive in small batches, when the page is hidden", async () => {
    vi.useFakeTimers();
    const { batches, send } = recorder();
    const telemetry = new Telemetry({ send, intervalMs: 5000 });
    telemetry.start();
    telemetry.track({ type: "view", item_kind: "answer", item_id: "1" });
    await vi.advanceTimersByTimeAsync(5000);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.keepalive).toBe(false);
    for (let i = 0; i < KEEPALIVE_BATCH + 10; i++) telemetry.track({ type: "view", item_kind: "answer", item_id: String(i) });
    window.dispatchEvent(new Event("pagehide"));
    await vi.advanceTimersByTimeAsync(0);
    expect(batches.slice(1).map((b) => [b.events.length, b.keepalive])).toEqual([
      [KEEPALIVE_BATCH, true],
      [10, true],
    ]);
    telemetry.stop();
    telemetry.track({ type: "view", item_kind: "answer", item_id: "x" });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(batches).toHaveLength(3);
  });

  it("posts to /ingest/telemetry with the key and keepalive; 5xx is retried, 422 and no key are dropped", async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const statuses = [200, 503, 422];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response(JSON.stringify({ accepted: 1, duplicates: 0 }), { status: statuses.shift() ?? 200 });
    });
    const event: EventIn = { event_id: newEventId(), ts: "2026-12-06T10:15:00Z", type: "view", item_kind: "answer", item_id: "1" };
    expect(await sendEvents([event], true)).toBe("drop"); // signed out: nothing is sent
    expect(calls).toHaveLength(0);
    storeKey("luna_viewer");
    expect(await sendEvents([event], true)).toBe("sent");
    const [call] = calls;
    expect(call?.url).toBe("/ingest/telemetry");
    expect(call?.init.keepalive).toBe(true);
    expect((call?.init.headers as Record<string, string>)["X-API-Key"]).toBe("luna_viewer");
    expect(JSON.parse(String(call?.init.body))).toEqual({ events: [event] });
    expect(await sendEvents([event], false)).toBe("retry");
    expect(await sendEvents([event], false)).toBe("drop");
    vi.stubGlobal("fetch", async () => {
      throw new TypeError("Failed to fetch");
    });
    expect(await sendEvents([event], false)).toBe("retry");
  });
});
