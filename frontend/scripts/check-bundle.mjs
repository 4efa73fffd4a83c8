// The JS budget, checked by every build: the entry chunk (what the first page load must parse before
// anything shows) and all JS the app loads for Home, gzip-compressed. Lazy chunks (ECharts) are
// reported and held to their own budget. Fails the build (exit 1) past a budget.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

export const BUDGET_KB = { entry: 150, lazy: 400, css: 15 };

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const index = readFileSync(join(dist, "index.html"), "utf8");
const entryName = /<script type="module" crossorigin src="\/assets\/([^"]+\.js)"/.exec(index)?.[1];
if (!entryName) {
  console.error("check-bundle: no entry script in dist/index.html");
  process.exit(1);
}
const gz = (file) => gzipSync(readFileSync(join(dist, "assets", file)), { level: 9 }).length / 1024;
const assets = readdirSync(join(dist, "assets"));
const entry = gz(entryName);
const lazy = assets.filter((f) => f.endsWith(".js") && f !== entryName).map((f) => [f, gz(f)]);
const css = assets.filter((f) => f.endsWith(".css")).reduce((sum, f) => sum + gz(f), 0);
const failures = [];
console.log(`bundle: entry ${entryName} ${entry.toFixed(1)} kB gzip (budget ${BUDGET_KB.entry} kB)`);
for (const [file, size] of lazy) {
  console.log(`bundle: lazy  ${file} ${size.toFixed(1)} kB gzip (budget ${BUDGET_KB.lazy} kB)`);
  if (size > BUDGET_KB.lazy) failures.push(`${file} ${size.toFixed(1)} kB > ${BUDGET_KB.lazy} kB`);
}
console.log(`bundle: css ${css.toFixed(1)} kB gzip (budget ${BUDGET_KB.css} kB)`);
if (entry > BUDGET_KB.entry) failures.push(`entry ${entry.toFixed(1)} kB > ${BUDGET_KB.entry} kB`);
if (css > BUDGET_KB.css) failures.push(`css ${css.toFixed(1)} kB > ${BUDGET_KB.css} kB`);
if (failures.length) {
  console.error(`bundle budget exceeded: ${failures.join("; ")}`);
  process.exit(1);
}
