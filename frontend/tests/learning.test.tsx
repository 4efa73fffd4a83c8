// The learning loop in the app: votes under Luna's answers, Home's recommendations, Luna's memory on
// Support and the admin's Privacy & learning section (fetch answered like the API, as in the other tests).
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { storeKey } from "../src/api/client";
import { setConnection } from "../src/api/connection";
import { telemetry } from "../src/api/telemetry";
import type { RecommendRead } from "../src/api/types";
import { LunaChat } from "../src/components/luna/LunaChat";
import { Learning } from "../src/pages/admin/Learning";
import { ledgersWithCurrent } from "../src/pages/admin/learning";
import { RecommendCard } from "../src/pages/home/RecommendCard";
import { itemRef, localIso, reasonKey } from "../src/pages/home/recommend";
import "../src/pages/home/i18n";
import i18n from "../src/i18n";
import { num } from "../src/format";
import { MemoryPanel } from "../src/pages/support/Memory";
import { fakeApi, renderApp, seriousViolations } from "./render";

const REC = "5b1c0000-0000-4000-8000-000000000001";
const CONV = "44444444-4444-4444-8444-444444444444";
const askOut = {
  answer: "The limit is 380 kW.",
  citations: [],
  generator: "extractive",
  conversation_id: CONV,
  language: "en",
  found_relevant: true,
  prompt_version: "luna-v1",
  notes: [],
  answer_id: 42,
};
const recommendation: RecommendRead = {
  recommendation_id: REC,
  created_at: "2026-12-06T10:00:00Z",
  policy: "linucb",
  items: [
    { kind: "action", id: "review_alerts", title: "Review open alerts", score: 1.2, reason: "2 open alerts waiting", reason_code: "open_alerts", reason_params: { open_alerts: 2 }, link: "/smart-meters" },
    { kind: "action", id: "check_tariff", title: "Check the tariff", score: 0.5, reason: "fits the page you are on (0.41)", reason_code: "fits_page", reason_params: { similarity: 0.41 }, link: "/prices" },
  ],
};
const status = { version: "1", uptime_s: 5, backends: [], decisions: { rules: 0, rules_enabled: 0, open_alerts: { warning: 2 } }, knowledge: null };
/** fakeApi, with an empty 204 (a Response with status 204 may carry no body). */
function api204(handler: Parameters<typeof fakeApi>[0]) {
  const fake = fakeApi(handler);
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input), "http://luna.test");
    const answer = handler(url, init);
    if (answer !== "down" && answer.status === 204) return new Response(null, { status: 204 });
    return fake(input, init);
  };
}
const notFound = { status: 404, body: { error: { code: "not_found", message: "no such thing" } } };

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  telemetry.stop();
  telemetry.clear();
  setConnection({ state: "ok" });
});

describe("votes under Luna's answers", () => {
  it("sends the answer_id as feedback, shows it recorded, and lets the vote change", async () => {
    storeKey("luna_viewer");
    const feedback: unknown[] = [];
    vi.stubGlobal(
      "fetch",
      fakeApi((url, init) => {
        if (url.pathname === "/rag/ask") return { status: 200, body: askOut };
        if (url.pathname === "/feedback") {
          const body = JSON.parse(String(init?.body)) as { helpful: boolean };
          feedback.push(body);
          return { status: 200, body: { ...body, comment: null, reward: body.helpful ? 1 : -1, replaced: feedback.length > 1 } };
        }
        return notFound;
      }),
    );
    const tracked = vi.spyOn(telemetry, "track");
    const { container } = renderApp(<LunaChat />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Your question"), "What is the limit?");
    await user.click(screen.getByRole("button", { name: "Ask" }));
    const vote = await screen.findByTestId("luna-vote");
    expect(tracked).toHaveBeenCalledWith(expect.objectContaining({ type: "view", item_kind: "answer", item_id: "42" }));

    await user.click(within(vote).getByRole("button", { name: "Helpful" }));
    await waitFor(() => expect(within(vote).getByTestId("luna-vote-state")).toHaveTextContent("Recorded: helpful."));
    expect(within(vote).getByRole("button", { name: "Helpful" })).toHaveAttribute("aria-pressed", "true");
    await user.click(within(vote).getByRole("button", { name: "Not helpful" }));
    await waitFor(() => expect(within(vote).getByTestId("luna-vote-state")).toHaveTextContent("Recorded: not helpful."));
    expect(within(vote).getByRole("button", { name: "Helpful" })).toHaveAttribute("aria-pressed", "false");
    expect(feedback).toEqual([
      { target: "answer", id: "42", helpful: true },
      { target: "answer", id: "42", helpful: false },
    ]);
    expect(await seriousViolations(container)).toEqual([]);
  });

  it("shows the API's error when the vote is refused", async () => {
    storeKey("luna_viewer");
    vi.stubGlobal(
      "fetch",
      fakeApi((url) => {
        if (url.pathname === "/rag/ask") return { status: 200, body: askOut };
        if (url.pathname === "/feedback") return { status: 404, body: { error: { code: "not_found", message: "answer 42 does not exist" } } };
        return notFound;
      }),
    );
    renderApp(<LunaChat />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Your question"), "What is the limit?");
    await user.click(screen.getByRole("button", { name: "Ask" }));
    await user.click(await screen.findByRole("button", { name: "Helpful" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("answer 42 does not exist");
  });
});

describe("recommendations on Home", () => {
  it("asks with the page, the local time and the open alerts; click and dismiss are telemetry; the list takes feedback", async () => {
    storeKey("luna_viewer");
    const bodies: Record<string, unknown>[] = [];
    const feedback: unknown[] = [];
    vi.stubGlobal(
      "fetch",
      fakeApi((url, init) => {
        if (url.pathname === "/status/summary") return { status: 200, body: status };
        if (url.pathname === "/recommend") {
          bodies.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
          return { status: 200, body: recommendation };
        }
        if (url.pathname === "/feedback") {
          feedback.push(JSON.parse(String(init?.body)));
          return { status: 200, body: { target: "recommendation", id: REC, helpful: true, comment: null, reward: 1, replaced: false } };
        }
        return notFound;
      }),
    );
    const tracked = vi.spyOn(telemetry, "track");
    const { container } = renderApp(<RecommendCard />);
    const list = await screen.findByTestId("recommendations");
    expect(within(list).getAllByTestId("recommendation")).toHaveLength(2);
    expect(list).toHaveTextContent("Review open alerts");
    expect(list).toHaveTextContent("2 open alerts waiting");
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toMatchObject({ page: "/", open_alerts: 2, top_k: 5 });
    expect(String(bodies[0]?.at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    expect(tracked).toHaveBeenCalledWith(expect.objectContaining({ type: "view", item_kind: "recommendation", item_id: `${REC}/review_alerts` }));

    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Dismiss “Check the tariff”" }));
    expect(within(list).getAllByTestId("recommendation")).toHaveLength(1);
    expect(tracked).toHaveBeenCalledWith({ type: "dismiss", item_kind: "recommendation", item_id: `${REC}/check_tariff`, meta: { rank: 1, arm: "check_tariff" } });

    await user.click(screen.getByRole("button", { name: "Useful" }));
    expect(await screen.findByText("Recorded: useful.")).toBeInTheDocument();
    expect(feedback).toEqual([{ target: "recommendation", id: REC, helpful: true }]);
    expect(await seriousViolations(container)).toEqual([]);

    await user.click(screen.getByRole("button", { name: "Review open alerts" }));
    expect(tracked).toHaveBeenCalledWith({ type: "click", item_kind: "recommendation", item_id: `${REC}/review_alerts`, meta: { rank: 0, arm: "review_alerts" } });
  });

  it("names each action as <recommendation>/<arm> (the API credits that action); documents by their own id", () => {
    const withDoc: RecommendRead = { ...recommendation, items: [{ kind: "document", id: "doc-9", title: "Guide", score: 1, reason: "similar", reason_code: "document_match", reason_params: { snippet: "similar" }, link: null }, ...recommendation.items] };
    expect(withDoc.items.map((item) => itemRef(withDoc, item))).toEqual([
      { item_kind: "document", item_id: "doc-9" },
      { item_kind: "recommendation", item_id: `${REC}/review_alerts` },
      { item_kind: "recommendation", item_id: `${REC}/check_tariff` },
    ]);
  });

  it("words the reasons from their code and values in German, plurals and decimal commas included", () => {
    const de = i18n.getFixedT("de");
    const word = (item: RecommendRead["items"][number], reason: string) => {
      const { key, values } = reasonKey(item, (value, digits) => new Intl.NumberFormat("de-DE", { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value));
      return de(key, { ...values, defaultValue: reason, interpolation: { escapeValue: false } });
    };
    const [alerts, page] = recommendation.items as [RecommendRead["items"][number], RecommendRead["items"][number]];
    expect(word(alerts, alerts.reason)).toBe("2 offene Alarme warten");
    expect(word({ ...alerts, reason_params: { open_alerts: 1 } }, "1 open alert waiting")).toBe("1 offener Alarm wartet");
    expect(word(page, page.reason)).toBe("passt zu der Seite, auf der Sie sind (0,41)");
    const rated = { ...page, reason_code: "rated" as const, reason_params: { mean_rating: 0.5, ratings: 3 } };
    expect(word(rated, "rated 0.50 on average in 3 similar situations")).toBe("in 3 ähnlichen Situationen im Schnitt mit 0,50 bewertet");
    const battery = { ...page, reason_code: "discharge_pays" as const, reason_params: { soc_pct: 85, at_local: "18:00" } };
    expect(word(battery, "")).toBe("Batterie bei 85 % und hohe Preise um 18:00 Uhr: Entladen lohnt sich");
    // English is the API's own text.
    expect(i18n.getFixedT("en")(reasonKey(page, num).key, { defaultValue: page.reason })).toBe(page.reason);
  });

  it("writes the local time with its offset", () => {
    const text = localIso(new Date("2026-12-06T10:15:30Z"));
    expect(text).toMatch(/^2026-12-06T\d\d:\d\d:30[+-]\d\d:\d\d$/);
    expect(new Date(text).toISOString()).toBe("2026-12-06T10:15:30.000Z");
  });
});

describe("what Luna remembers", () => {
  it("shows the memory, saves an edit with PUT and deletes a conversation and everything only after confirming", async () => {
    storeKey("luna_viewer");
    let memory = {
      site: "Lunaburg",
      preferences: ["answers in kWh"],
      updated_at: "2026-12-01T10:00:00Z",
      conversations: [{ conversation_id: CONV, created_at: "2026-12-05T10:00:00Z", updated_at: "2026-12-05T10:05:00Z", turns: 3, first_question: "Wie hoch war der Verbrauch im November?" }],
      conversations_total: 1,
    };
    const calls: string[] = [];
    vi.stubGlobal(
      "fetch",
      api204((url, init) => {
        const method = init?.method ?? "GET";
        if (method !== "GET") calls.push(`${method} ${url.pathname}`);
        if (url.pathname === "/memory" && method === "GET") return { status: 200, body: memory };
        if (url.pathname === "/memory" && method === "PUT") {
          memory = { ...memory, ...(JSON.parse(String(init?.body)) as object) };
          return { status: 200, body: memory };
        }
        if (url.pathname === `/conversations/${CONV}` && method === "DELETE") {
          memory = { ...memory, conversations: [], conversations_total: 0 };
          return { status: 204, body: null };
        }
        if (url.pathname === "/memory" && method === "DELETE") {
          memory = { site: null as unknown as string, preferences: [], updated_at: null as unknown as string, conversations: [], conversations_total: 0 };
          return { status: 204, body: null };
        }
        return notFound;
      }),
    );
    const { container } = renderApp(<MemoryPanel />);
    const user = userEvent.setup();
    expect(await screen.findByTestId("memory-site")).toHaveTextContent("Lunaburg");
    expect(screen.getByTestId("memory-preferences")).toHaveTextContent("answers in kWh");
    expect(screen.getByTestId("memory-conversations")).toHaveTextContent("3 questions");
    expect(screen.getByTestId("conversation-title")).toHaveTextContent("Wie hoch war der Verbrauch im November?");
    expect(await seriousViolations(container)).toEqual([]);

    await user.click(screen.getByRole("button", { name: "Edit" }));
    const prefs = screen.getByLabelText("Preferences");
    await user.clear(prefs);
    await user.type(prefs, "answers in kWh{Enter}{Enter}short answers ");
    await user.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(screen.getByTestId("memory-preferences")).toHaveTextContent("short answers"));
    expect(memory.preferences).toEqual(["answers in kWh", "short answers"]);

    await user.click(within(screen.getByTestId("memory-conversations")).getByRole("button", { name: "Delete" }));
    expect(calls).not.toContain(`DELETE /conversations/${CONV}`);
    const ask = screen.getByRole("group", { name: /Delete this conversation/ });
    await user.click(within(ask).getByRole("button", { name: "Delete" }));
    expect(await screen.findByText("Conversation deleted.")).toBeInTheDocument();
    expect(calls).toContain(`DELETE /conversations/${CONV}`);
    await waitFor(() => expect(screen.getByText("No conversations stored.")).toBeInTheDocument());

    await user.click(screen.getByRole("button", { name: "Forget everything" }));
    await user.click(within(screen.getByRole("group", { name: /Delete site, preferences/ })).getByRole("button", { name: "Cancel" }));
    expect(calls).not.toContain("DELETE /memory");
    await user.click(screen.getByRole("button", { name: "Forget everything" }));
    await user.click(within(screen.getByRole("group", { name: /Delete site, preferences/ })).getByRole("button", { name: "Forget everything" }));
    expect(await screen.findByText("Luna has forgotten everything of your key.")).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId("memory-site")).toHaveTextContent("not set"));
  });
});

describe("privacy & learning (admin)", () => {
  const budget = { epsilon_per_export: 1, epsilon_budget: 4, ledgers: [{ ledger: "bandit", epsilon_spent: 1, epsilon_remaining: 3 }] };
  const key = { algorithm: "Ed25519", public_key: "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=", fingerprint: "ab".repeat(32) };

  function learnApi(flag: boolean, imported: unknown[] = []) {
    return fakeApi((url, init) => {
      if (url.pathname === "/learn/budget") return { status: 200, body: budget };
      if (url.pathname === "/learn/public-key") return { status: 200, body: key };
      if (url.pathname === "/admin/privacy") return { status: 200, body: { flag_send_aggregates: flag, instance_fingerprint: "f".repeat(16), updated_at: "2026-12-01T00:00:00Z" } };
      if (url.pathname === "/learn/export") {
        if (!flag) return { status: 409, body: { error: { code: "conflict", message: "the privacy flag is off: turn it on in the admin settings" } } };
        const body = JSON.parse(String(init?.body)) as { from: string; to: string };
        return {
          status: 200,
          body: { file: "/var/luna/exports/export-1.json", file_sha256: "1".repeat(64), digest_sha256: "2".repeat(64), period_from: body.from, period_to: body.to, epsilon: 1, ledgers: [], sent: false, key_fingerprint: key.fingerprint },
        };
      }
      if (url.pathname === "/learn/priors") {
        imported.push(JSON.parse(String(init?.body)));
        return { status: 200, body: { imported: true, digest_sha256: "2".repeat(64), key_fingerprint: key.fingerprint, period_from: "2026-12-01T00:00:00Z", period_to: "2026-12-07T00:00:00Z", weight: 0.5, arms: ["a", "b"] } };
      }
      return notFound;
    });
  }

  it("shows the budget with this month's ledger, the copyable key, and the API's 409 while the flag is off", async () => {
    storeKey("luna_admin");
    vi.stubGlobal("fetch", learnApi(false));
    const { container } = renderApp(<Learning />);
    const table = await screen.findByTestId("learn-budget");
    expect(table).toHaveTextContent(new Date().toISOString().slice(0, 7));
    expect(table).toHaveTextContent("bandit statistics");
    expect(await screen.findByTestId("learn-public-key")).toHaveTextContent(key.public_key);
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Copy" }));
    expect(await navigator.clipboard.readText()).toBe(key.public_key); // user-event's clipboard
    expect(await screen.findByRole("button", { name: "Copied" })).toBeInTheDocument();
    expect(await screen.findByTestId("learn-flag-off")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Create export" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("(409): the privacy flag is off");
    expect(await seriousViolations(container)).toEqual([]);
  });

  it("creates an export for the period and imports a signed file as priors", async () => {
    storeKey("luna_admin");
    const imported: unknown[] = [];
    vi.stubGlobal("fetch", learnApi(true, imported));
    renderApp(<Learning />);
    const user = userEvent.setup();
    const from = await screen.findByLabelText("From");
    await user.clear(from);
    await user.type(from, "2026-11-01");
    await user.click(screen.getByRole("button", { name: "Create export" }));
    const result = await screen.findByTestId("learn-export");
    expect(result).toHaveTextContent("/var/luna/exports/export-1.json");

    const file = new File([JSON.stringify({ payload: { arms: [] }, signature: "x" })], "export-1.json", { type: "application/json" });
    await user.upload(screen.getByLabelText("Signed export file"), file);
    await user.click(screen.getByRole("button", { name: "Import" }));
    expect(await screen.findByTestId("learn-priors-result")).toHaveTextContent("Imported: 2 arms, weight 0.50.");
    expect(imported).toEqual([{ payload: { arms: [] }, signature: "x" }]);

    await user.upload(screen.getByLabelText("Signed export file"), new File(["not json"], "notes.json", { type: "application/json" }));
    await user.click(screen.getByRole("button", { name: "Import" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("notes.json is not a JSON file");
  });

  it("adds this month's ledger when nothing charged it yet", () => {
    const rows = ledgersWithCurrent({ epsilon_per_export: 1, epsilon_budget: 4, ledgers: [{ ledger: "bandit", epsilon_spent: 1, epsilon_remaining: 3 }] }, new Date("2026-12-06T10:00:00Z"));
    expect(rows.map((r) => [r.ledger, r.epsilon_remaining])).toEqual([
      ["2026-12", 4],
      ["bandit", 3],
    ]);
  });
});
