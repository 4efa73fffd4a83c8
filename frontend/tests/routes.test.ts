import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PAGES, SIGN_IN } from "../src/routes";

describe("page paths", () => {
  it("never start with a first segment the API owns (a reload must reach the app)", () => {
    const openapi = JSON.parse(readFileSync(join(__dirname, "..", "..", "openapi.json"), "utf8")) as { paths: Record<string, unknown> };
    const api = new Set(Object.keys(openapi.paths).map((path) => path.split("/")[1]));
    for (const reserved of ["docs", "redoc", "openapi.json", "api-docs", "assets"]) api.add(reserved);
    for (const path of [...PAGES.map((page) => page.path), SIGN_IN]) {
      const first = path.split("/")[1] ?? "";
      expect(api.has(first), `${path} collides with the API`).toBe(false);
    }
  });
});
