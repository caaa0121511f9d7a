// Builds the web client: bundles each entry point with esbuild into
// chat_server/static/build/ under content-hashed names, and writes manifest.json,
// which maps each logical name to its hashed file and its Subresource Integrity hash
// (sha384). The server reads only the manifest (chat_server/web_manifest.py).
//
// Run by scripts/bootstrap when web/ or package-lock.json changed: node web/build.mjs

import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const outdir = join(root, "chat_server", "static", "build");

// Logical name -> [source, format]. One script and one stylesheet per page, plus the
// shared app.css every page links first. Page scripts are ES modules (top-level await
// of libsodium); the loader is a classic script so document.currentScript works.
// Page CSS is its own entry, not imported from main.mjs: esbuild would then emit two
// files for one entry, and each logical name here is exactly one hashed file.
const ENTRIES = {
  "app.css": ["web/src/app.css", "esm"],
  "widget.js": ["web/src/widget/main.mjs", "esm"],
  "widget.css": ["web/src/widget/widget.css", "esm"],
  "inbox.js": ["web/src/inbox/main.mjs", "esm"],
  "inbox.css": ["web/src/inbox/inbox.css", "esm"],
  "panel.js": ["web/src/panel/main.mjs", "esm"],
  "panel.css": ["web/src/panel/panel.css", "esm"],
  "practice.js": ["web/src/practice/main.mjs", "esm"],
  "practice.css": ["web/src/practice/practice.css", "esm"],
  "moderation.js": ["web/src/moderation/main.mjs", "esm"],
  "moderation.css": ["web/src/moderation/moderation.css", "esm"],
  "widget-loader.js": ["web/src/widget-loader.mjs", "iife"],
};

async function bundle(logical, source, format) {
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { [logical.replace(/\.(js|css)$/, "")]: source },
    bundle: true,
    format,
    platform: "browser",
    target: ["es2022"],
    minify: true,
    entryNames: "[name]-[hash]",
    outdir,
    metafile: true,
    write: true,
    logLevel: "warning",
  });
  const outputs = Object.keys(result.metafile.outputs);
  if (outputs.length !== 1) {
    throw new Error(`${logical}: expected one output file, got ${outputs.join(", ")}`);
  }
  const file = join(root, outputs[0]);
  const bytes = await readFile(file);
  const integrity = "sha384-" + createHash("sha384").update(bytes).digest("base64");
  return { file: basename(file), integrity };
}

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const manifest = {};
for (const [logical, [source, format]] of Object.entries(ENTRIES)) {
  manifest[logical] = await bundle(logical, source, format);
}
await writeFile(join(outdir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.error(`web build: ${Object.keys(manifest).length} files in ${relative(root, outdir)}`);
