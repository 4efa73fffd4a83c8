// Copies the scripts of Swagger UI and ReDoc into the build (dist/api-docs/), so /docs and /redoc load
// them from our own server: no CDN (the product must work with the network unplugged).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = {
  "swagger-ui/swagger-ui-bundle.js": "node_modules/swagger-ui-dist/swagger-ui-bundle.js",
  "swagger-ui/swagger-ui.css": "node_modules/swagger-ui-dist/swagger-ui.css",
  "swagger-ui/LICENSE": "node_modules/swagger-ui-dist/LICENSE",
  "redoc/redoc.standalone.js": "node_modules/redoc/bundles/redoc.standalone.js",
  "redoc/LICENSE": "node_modules/redoc/LICENSE",
};
for (const [target, source] of Object.entries(files)) {
  const destination = join(root, "dist", "api-docs", target);
  mkdirSync(dirname(destination), { recursive: true });
  copyFileSync(join(root, source), destination);
}
// ReDoc's sidebar shows a "Redocly" logo from its CDN: point it at our favicon instead.
const redoc = join(root, "dist", "api-docs", "redoc", "redoc.standalone.js");
writeFileSync(redoc, readFileSync(redoc, "utf8").replaceAll("https://cdn.redoc.ly/redoc/logo-mini.svg", "/favicon.svg"));
console.log(`api docs: ${Object.keys(files).length} files copied to dist/api-docs/`);
