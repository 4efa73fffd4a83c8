// Anonymous usage signals for the learning loop (docs/learning.md): events are queued here and sent in
// batches to POST /ingest/telemetry — every few seconds, when the queue is full, and when the page is
// hidden (fetch keepalive, so the last batch survives closing the tab). Each event has its own
// event_id (crypto.randomUUID): a batch sent twice is counted as duplicates, never stored twice.
// Never personal data: no user field, no free text — ids of items, the page path, small numbers.
import { getStoredKey } from "./client";
import type { EventIn } from "./types";

/** The API's limit per request (MAX_EVENTS_PER_BATCH). */
export const MAX_BATCH = 1000;
/** Browsers cap a keepalive request's body at 64 KiB: batches sent while the page goes away are smaller. */
export const KEEPALIVE_BATCH = 150;
/** Events kept while the API does not answer; the oldest go first beyond this. */
export const MAX_QUEUE = 5000;
export const FLUSH_INTERVAL_MS = 10_000;

export type EventType = EventIn["type"];
export type ItemKind = EventIn["item_kind"];

export interface Signal {
  type: EventType;
  item_kind: ItemKind;
  item_id: string;
  duration_ms?: number;
  meta?: Record<string, string | number | boolean | null>;
}

/** What a send achieved: "sent" (stored or duplicate), "retry" (server or network trouble: keep the
 * events), "drop" (the API refused them: sending again would not help). */
export type SendResult = "sent" | "retry" | "drop";
export type Sender = (events: EventIn[], keepalive: boolean) => Promise<SendResult>;

export function newEventId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** POST /ingest/telemetry with the stored key; no key (signed out): the events are dropped. */
export const sendEvents: Sender = async (events, keepalive) => {
  const key = getStoredKey();
  if (!key) return "drop";
  try {
    const response = await fetch("/ingest/telemetry", {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-API-Key": key },
      body: JSON.stringify({ events }),
      keepalive,
    });
    if (response.ok) return "sent";
    return response.status === 429 || response.status >= 500 ? "retry" : "drop";
  } catch {
    return "retry";
  }
};

export interface TelemetryOptions {
  send?: Sender;
  maxBatch?: number;
  keepaliveBatch?: number;
  maxQueue?: number;
  intervalMs?: number;
  now?: () => Date;
}

export class Telemetry {
  private queue: EventIn[] = [];
  private sending: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly send: Sender;
  private readonly maxBatch: number;
  private readonly keepaliveBatch: number;
  private readonly maxQueue: number;
  private readonly intervalMs: number;
  private readonly now: () => Date;
  private readonly onHide = () => {
    if (document.visibilityState === "hidden") void this.flush({ keepalive: true });
  };
  private readonly onPageHide = () => void this.flush({ keepalive: true });

  constructor(options: TelemetryOptions = {}) {
    this.send = options.send ?? sendEvents;
    this.maxBatch = Math.min(options.maxBatch ?? MAX_BATCH, MAX_BATCH);
    this.keepaliveBatch = Math.min(options.keepaliveBatch ?? KEEPALIVE_BATCH, this.maxBatch);
    this.maxQueue = options.maxQueue ?? MAX_QUEUE;
    this.intervalMs = options.intervalMs ?? FLUSH_INTERVAL_MS;
    this.now = options.now ?? (() => new Date());
  }

  /** Events waiting to be sent. */
  get pending(): number {
    return this.queue.length;
  }

  /** Queues one event; returns its event_id. A full batch is sent at once. */
  track(signal: Signal): string {
    const event: EventIn = {
      event_id: newEventId(),
      ts: this.now().toISOString(),
      type: signal.type,
      item_kind: signal.item_kind,
      item_id: signal.item_id,
      page: typeof location === "undefined" ? null : location.pathname || "/",
    };
    if (signal.type === "dwell") event.duration_ms = Math.max(0, Math.round(signal.duration_ms ?? 0));
    if (signal.meta && Object.keys(signal.meta).length > 0) event.meta = signal.meta;
    this.queue.push(event);
    if (this.queue.length > this.maxQueue) this.queue.splice(0, this.queue.length - this.maxQueue);
    if (this.queue.length >= this.maxBatch) void this.flush();
    return event.event_id;
  }

  /** Sends everything queued, in batches; on trouble the unsent events stay queued for the next flush. */
  flush({ keepalive = false }: { keepalive?: boolean } = {}): Promise<void> {
    if (keepalive) return this.drain(true); // the page goes away: do not wait for a running send
    if (!this.sending) {
      this.sending = this.drain(false).finally(() => {
        this.sending = null;
      });
    }
    return this.sending;
  }

  private async drain(keepalive: boolean): Promise<void> {
    const size = keepalive ? this.keepaliveBatch : this.maxBatch;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, size);
      const result = await this.send(batch, keepalive);
      if (result === "retry") {
        this.queue.unshift(...batch);
        if (this.queue.length > this.maxQueue) this.queue.splice(0, this.queue.length - this.maxQueue);
        return;
      }
    }
  }

  /** Flushes on an interval and when the page is hidden or left; idempotent. */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    document.addEventListener("visibilitychange", this.onHide);
    window.addEventListener("pagehide", this.onPageHide);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    document.removeEventListener("visibilitychange", this.onHide);
    window.removeEventListener("pagehide", this.onPageHide);
  }

  /** Forgets queued events (sign-out). */
  clear(): void {
    this.queue = [];
  }
}

/** The app's one telemetry queue. */
export const telemetry = new Telemetry();

/** Queues an anonymous event on the app's queue (starting its timer on first use). */
export function track(signal: Signal): string {
  telemetry.start();
  return telemetry.track(signal);
}
