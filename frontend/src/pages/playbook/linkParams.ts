// Reading Luna's links (/playbook?scenario=<uuid>: a what-if she ran) as the page's first state.
// Pure function (tested in tests/link-params.test.ts). Not a UUID: null, the page shows the latest scenario.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function linkedScenario(params: URLSearchParams): string | null {
  const value = params.get("scenario")?.trim() ?? "";
  return UUID.test(value) ? value.toLowerCase() : null;
}
