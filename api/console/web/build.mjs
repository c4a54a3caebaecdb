// Builds the console's bundle into ../static: one ES module for the pages (MapLibre GL JS and the
// Janus client included), one stylesheet, MapLibre's worker beside them, every name carrying a hash
// of its content, and manifest.json telling the server which names to put in the page.
// Run by scripts/build-console (which scripts/setup.sh calls); nothing is fetched here.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "static");
const hashOf = (bytes) => createHash("sha256").update(bytes).digest("hex").slice(0, 12);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// MapLibre starts its worker from a URL; the page's CSP allows only this origin's scripts.
const workerSource = join(here, "node_modules", "maplibre-gl", "dist", "maplibre-gl-worker.mjs");
const workerName = `maplibre-gl-worker-${hashOf(readFileSync(workerSource))}.mjs`;
copyFileSync(workerSource, join(out, workerName));

const result = await build({
  entryPoints: { console: join(here, "src", "main.js"), "console-style": join(here, "src", "console.css") },
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2022", "chrome110", "firefox115", "safari16"],
  outdir: out,
  entryNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  legalComments: "linked",
  metafile: true,
  logLevel: "warning",
});

const manifest = { worker: workerName };
for (const [file, info] of Object.entries(result.metafile.outputs)) {
  const name = file.split("/").pop();
  if (!info.entryPoint) continue;
  if (name.startsWith("console-style-") && name.endsWith(".css")) manifest.css = name;
  else if (name.startsWith("console-") && name.endsWith(".js")) manifest.js = name;
}
if (!manifest.js || !manifest.css) throw new Error(`bundle incomplete: ${JSON.stringify(manifest)}`);
// Each file also compressed ahead of time (brotli, gzip): the server sends the copy a browser
// accepts, so nothing is compressed per request.
for (const name of [manifest.js, manifest.css, workerName]) {
  const bytes = readFileSync(join(out, name));
  writeFileSync(join(out, `${name}.gz`), gzipSync(bytes, { level: 9 }));
  const brotli = { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length };
  writeFileSync(join(out, `${name}.br`), brotliCompressSync(bytes, { params: brotli }));
}
writeFileSync(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 1)}\n`);
const sizes = [manifest.js, manifest.css, workerName].map((name) => {
  const bytes = readFileSync(join(out, name));
  return [bytes.length, gzipSync(bytes, { level: 9 }).length];
});
const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
const total = sizes.reduce((sum, [, gz]) => sum + gz, 0);
console.log(
  `[build-console] ${manifest.js}, ${manifest.css}, ${workerName} in ${out}: ` +
    `${sizes.map(([raw, gz]) => `${kb(raw)} (${kb(gz)} gzipped)`).join(", ")}; ${kb(total)} gzipped in all`,
);
