// Fails when src/api/schema.d.ts no longer matches ../openapi.json (run `npm run gen:api` after
// `make openapi`): the app's types are those of the committed API contract.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const fresh = join(mkdtempSync(join(tmpdir(), "luna-api-")), "schema.d.ts");
execFileSync(join(root, "node_modules", ".bin", "openapi-typescript"), ["../openapi.json", "-o", fresh], { cwd: root, stdio: "ignore" });
if (readFileSync(fresh, "utf8") !== readFileSync(join(root, "src", "api", "schema.d.ts"), "utf8")) {
  console.error("src/api/schema.d.ts is stale: run `npm run gen:api` (after `make openapi`) and commit it");
  process.exit(1);
}
console.log("api types match openapi.json");
