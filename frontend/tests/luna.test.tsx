import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { storeKey } from "../src/api/client";
import { setConnection } from "../src/api/connection";
import { parseSse, splitCitations, type Citation } from "../src/components/luna/ask";
import { LunaChat } from "../src/components/luna/LunaChat";
import { Support } from "../src/pages/support/Support";
import { fakeApi, renderApp, seriousViolations } from "./render";

const ITEM = "11111111-1111-4111-8111-111111111111";
const CHUNK = "22222222-2222-4222-8222-222222222222";
const cite = (n: number, extra: Partial<Citation> = {}): Citation => ({
  n,
  chunk_id: n === 1 ? CHUNK : `33333333-3333-4333-8333-33333333333${n}`,
  item_id: ITEM,
  title: "Operating manual: Lunaburg",
  page: n === 1 ? 3 : null,
  section: n === 1 ? "2 Battery operation" : null,
  snippet: "Peak shaving: keep the grid import below 380 kW.",
  score: 0.8,
  ...extra,
});
const askOut = {
  answer: "The limit is 380 kW [1]. See also [2].",
  citations: [cite(1), cite(2)],
  generator: "extractive",
  conversation_id: "44444444-4444-4444-8444-444444444444",
  language: "en",
  found_relevant: true,
  prompt_version: "luna-v1",
  notes: [],
};
const chunk = {
  chunk_id: CHUNK,
  item_id: ITEM,
  chunk_idx: 2,
  text: "## 2 Battery operation\n\n1. Peak shaving: keep the grid import below the peak-shaving limit of 380 kW.",
  page_start: 3,
  page_end: 3,
  heading_path: ["Operating manual", "2 Battery operation"],
  section: "2 Battery operation",
  language: "en",
  token_count: 40,
};
const documentApi = (url: URL) => {
  if (url.pathname === `/documents/${ITEM}/chunks/${chunk.chunk_id}`) return { status: 200, body: chunk };
  if (url.pathname === `/documents/${ITEM}`) return { status: 200, body: { item_id: ITEM, title: "Operating manual: Lunaburg municipal utility site", chunk_count: 5 } };
  return null;
};

afterEach(() => {
  vi.unstubAllGlobals();
  setConnection({ state: "ok" });
});

describe("citations", () => {
  it("turns [n] marks of the answer's citations into links and leaves other brackets alone", () => {
    const parts = splitCitations("A [1] B [2, 3] C [9] D", [cite(1), cite(2), cite(3)]);
    expect(parts.map((p) => (p.kind === "text" ? p.text : `#${p.n}`))).toEqual(["A ", "#1", " B ", "#2", "#3", " C [9] D"]);
    expect(splitCitations("no sources", [])).toEqual([{ kind: "text", text: "no sources" }]);
  });

  it("reads Server-Sent Events split across reads", () => {
    const first = parseSse('event: citations\ndata: []\n\nevent: token\ndata: "Hel');
    expect(first.events).toEqual([{ event: "citations", data: "[]" }]);
    const second = parseSse(`${first.rest}lo"\n\n`);
    expect(second.events).toEqual([{ event: "token", data: '"Hello"' }]);
    expect(second.rest).toBe("");
  });
});

describe("Luna chat", () => {
  it("answers with clickable citations that open the cited passage; follow-ups keep the conversation", async () => {
    storeKey("luna_viewer");
    const bodies: unknown[] = [];
    vi.stubGlobal(
      "fetch",
      fakeApi((url, init) => {
        if (url.pathname === "/rag/ask") {
          bodies.push(JSON.parse(String(init?.body)));
          return { status: 200, body: askOut };
        }
        return documentApi(url) ?? { status: 404, body: { error: { code: "not_found", message: "no such thing" } } };
      }),
    );
    const { container } = renderApp(<LunaChat />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Your question"), "What is the peak-shaving limit?");
    await user.click(screen.getByRole("button", { name: "Ask" }));
    const answer = await screen.findByTestId("luna-answer");
    expect(answer).toHaveTextContent("The limit is 380 kW [1]. See also [2].");
    expect(screen.getByLabelText("Your question")).toHaveValue("");
    expect(await seriousViolations(container)).toEqual([]);

    await user.click(within(answer).getByRole("button", { name: "Source 1: Operating manual: Lunaburg" }));
    const viewer = await screen.findByRole("dialog");
    await waitFor(() => expect(within(viewer).getByTestId("chunk-text")).toHaveTextContent("peak-shaving limit of 380 kW"));
    expect(viewer).toHaveTextContent("Operating manual: Lunaburg municipal utility site");
    expect(viewer).toHaveTextContent("Page3");
    expect(viewer).toHaveTextContent("Section2 Battery operation");
    expect(viewer).toHaveTextContent("Passage 3 of 5");
    await user.click(within(viewer).getByRole("button", { name: "Close" }));
    expect(screen.queryByRole("dialog")).toBeNull();

    await user.type(screen.getByLabelText("Your question"), "And in summer?");
    await user.click(screen.getByRole("button", { name: "Ask" }));
    await waitFor(() => expect(screen.getAllByTestId("luna-turn")).toHaveLength(2));
    expect(bodies).toEqual([
      { question: "What is the peak-shaving limit?", conversation_id: null, stream: true },
      { question: "And in summer?", conversation_id: askOut.conversation_id, stream: true },
    ]);
  });

  it("streams the answer from Server-Sent Events", async () => {
    storeKey("luna_viewer");
    const events = [
      `event: citations\ndata: ${JSON.stringify(askOut.citations)}\n\n`,
      'event: token\ndata: "The limit is "\n\n',
      'event: token\ndata: "380 kW [1]."\n\n',
      `event: done\ndata: ${JSON.stringify({ ...askOut, answer: "The limit is 380 kW [1]." })}\n\n`,
    ];
    vi.stubGlobal("fetch", async () => {
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const event of events) controller.enqueue(encoder.encode(event));
          controller.close();
        },
      });
      return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
    });
    renderApp(<LunaChat />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Your question"), "Limit?");
    await user.click(screen.getByRole("button", { name: "Ask" }));
    await waitFor(() => expect(screen.getByTestId("luna-answer")).toHaveTextContent("The limit is 380 kW [1]."));
    expect(screen.getByRole("button", { name: "Source 1: Operating manual: Lunaburg" })).toBeInTheDocument();
  });

  it("shows the API's error as it is and keeps the typed question", async () => {
    storeKey("luna_viewer");
    vi.stubGlobal(
      "fetch",
      fakeApi(() => ({ status: 404, body: { error: { code: "not_found", message: "conversation 4444 not found" } } })),
    );
    renderApp(<LunaChat />);
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Your question"), "Where is the data logger?");
    await user.click(screen.getByRole("button", { name: "Ask" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("(404): conversation 4444 not found");
    expect(screen.getByLabelText("Your question")).toHaveValue("Where is the data logger?");
    expect(screen.queryByTestId("luna-turn")).toBeNull();
  });
});

describe("Support", () => {
  it("searches the documents, opens a hit's passage, shows the version and the placeholders", async () => {
    storeKey("luna_viewer");
    vi.stubGlobal(
      "fetch",
      fakeApi((url) => {
        if (url.pathname === "/search") {
          expect(url.searchParams.get("q")).toBe("battery reserve");
          return {
            status: 200,
            body: {
              query: "battery reserve",
              mode: "hybrid",
              took_ms: 12.3,
              hits: [{ ...chunk, title: "Operating manual: Lunaburg", page: 3, snippet: "A reserve of 30 % …", score: 0.03, dense_score: 0.7, dense_rank: 1, lexical_score: 3, lexical_rank: 1, ranking: "hybrid" }],
            },
          };
        }
        if (url.pathname === "/status/summary") return { status: 200, body: { version: "9.9.9", uptime_s: 3600, backends: [], decisions: { open_alerts: {}, rules: 0, rules_enabled: 0 }, knowledge: { documents: 4 } } };
        return documentApi(url) ?? { status: 404, body: { error: { code: "not_found", message: "no such thing" } } };
      }),
    );
    const { container } = renderApp(<Support />);
    const user = userEvent.setup();
    expect(await screen.findByTestId("support-version")).toHaveTextContent("9.9.9");
    expect(screen.getByTestId("support-privacy")).toHaveTextContent("Placeholder");
    expect(screen.getByTestId("support-imprint")).toHaveTextContent("Placeholder");
    await user.type(screen.getByLabelText("Search terms"), "battery reserve");
    await user.click(screen.getByRole("button", { name: "Search" }));
    const results = await screen.findByTestId("search-results");
    expect(await seriousViolations(container)).toEqual([]);
    await user.click(within(results).getByRole("button", { name: "Operating manual: Lunaburg" }));
    await waitFor(() => expect(screen.getByTestId("chunk-text")).toHaveTextContent("peak-shaving limit of 380 kW"));
  });
});
