// Whether the API answers: every request reports here, the banner reads it. A tiny store for
// useSyncExternalStore (no context needed: there is one API).

export type Connection =
  | { state: "ok" }
  | { state: "unreachable" }
  | { state: "unavailable"; message: string };

let current: Connection = { state: "ok" };
const listeners = new Set<() => void>();

export function getConnection(): Connection {
  return current;
}

export function setConnection(next: Connection): void {
  const same =
    next.state === current.state &&
    (next.state !== "unavailable" || (current.state === "unavailable" && current.message === next.message));
  if (same) return;
  current = next;
  listeners.forEach((listener) => listener());
}

export function subscribeConnection(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
