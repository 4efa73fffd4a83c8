// The one way the app talks to the API: same paths, same key, same errors as a script would get.
import { setConnection } from "./connection";

const KEY_STORAGE = "luna.apiKey";

/** An answer of the API with an error status: `message` is the API's own, written for people. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, details: unknown = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The API did not answer at all (server down, network gone). */
export class UnreachableError extends Error {
  constructor() {
    super("unreachable");
    this.name = "UnreachableError";
  }
}

export function getStoredKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, key);
}

type Query = Record<string, string | number | boolean | null | undefined>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined) params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function errorOf(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not our JSON (a proxy's page): say what we know.
  }
  const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
  if (error?.message) return new ApiError(response.status, error.code ?? "error", error.message, error.details);
  return new ApiError(response.status, "http_error", `HTTP ${response.status} ${response.statusText}`.trim());
}

export interface RequestOptions {
  method?: string;
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** A key to use instead of the stored one (sign-in tries a key before storing it). */
  key?: string;
  /** Error statuses whose body is data, not an error (e.g. 503 from /health/ready names the failing parts). */
  accept?: number[];
}

/** Calls the API; resolves with the JSON body, rejects with ApiError or UnreachableError. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const key = options.key ?? getStoredKey();
  if (key) headers["X-API-Key"] = key;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), {
      method: options.method ?? "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    setConnection({ state: "unreachable" });
    throw new UnreachableError();
  }
  if (options.accept?.includes(response.status)) {
    setConnection({ state: "ok" });
    return (await response.json()) as T;
  }
  if (response.status === 503) {
    const error = await errorOf(response);
    setConnection({ state: "unavailable", message: error.message });
    throw error;
  }
  setConnection({ state: "ok" });
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null as T; // No Content: a delete
  return (await response.json()) as T;
}
