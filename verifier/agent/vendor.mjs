// Copy the browser files the agent page needs from node_modules/ into static/vendor/.
//
// Run after `npm ci` in this folder:   npm ci && npm run vendor
// The copied files are committed, so the app never loads code from a CDN and a deployment
// needs neither npm nor network. Re-run (and commit the result) when package-lock.json changes.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, "node_modules", "zxing-wasm");
const target = join(here, "static", "vendor", "zxing-wasm");
const pkg = JSON.parse(readFileSync(join(source, "package.json"), "utf8"));

// Only the reader: ES module entry point, its one shared chunk, and the wasm binary. The
// relative layout is kept so reader/index.js still finds ../share.js.
const files = [
  ["dist/es/share.js", "share.js"],
  ["dist/es/reader/index.js", "reader/index.js"],
  ["dist/reader/zxing_reader.wasm", "reader/zxing_reader.wasm"],
  ["LICENSE", "LICENSE"],
];

rmSync(target, { recursive: true, force: true });
const manifest = { package: "zxing-wasm", version: pkg.version, files: {} };
for (const [from, to] of files) {
  mkdirSync(dirname(join(target, to)), { recursive: true });
  copyFileSync(join(source, from), join(target, to));
  const digest = createHash("sha256").update(readFileSync(join(target, to))).digest("hex");
  manifest.files[to] = digest;
}
writeFileSync(join(target, "VENDORED.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`vendored zxing-wasm ${pkg.version} into ${target}`);
