// Builds the SDK into web/static/sdk/v1 (committed, so `go build` needs no
// npm): sendora.js (script tag, sets window.Sendora), sendora.mjs (ES
// module, default export) and sendora.d.ts.
//
//   node build.mjs              build, write, print the sizes
//   node build.mjs --check      build in memory; fail if the committed files differ
//   node build.mjs --size       build in memory; print the sizes (make bench)
//   node build.mjs --test-only  only build/internal.mjs, the unit tests' view of the modules
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "../../web/static/sdk/v1");
const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const args = new Set(process.argv.slice(2));

const common = {
  bundle: true,
  minify: true,
  target: "es2019",
  define: { __VERSION__: JSON.stringify(pkg.version) },
  banner: { js: `/*! Sendora web SDK ${pkg.version} */` },
  legalComments: "none",
  // Private members start with "_": minified to short names (the types keep them private).
  mangleProps: /^_/,
  write: false,
  absWorkingDir: here,
  logLevel: "warning",
};

async function text(options) {
  const r = await build({ ...common, ...options });
  return r.outputFiles[0].text;
}

if (args.has("--test-only") || !(args.has("--check") || args.has("--size"))) {
  await build({ ...common, entryPoints: ["src/internal.ts"], format: "esm", minify: false, mangleProps: undefined, banner: {}, write: true, outfile: "build/internal.mjs" });
  if (args.has("--test-only")) process.exit(0);
}

const files = {
  "sendora.js": await text({ entryPoints: ["src/script.ts"], format: "iife" }),
  "sendora.mjs": await text({ entryPoints: ["src/module.ts"], format: "esm", target: "es2020" }),
  "sendora.d.ts": declarations(),
};

// declarations runs tsc (which also type-checks) and keeps the public
// module's types: sendora.d.ts, whose public surface imports nothing.
function declarations() {
  const dir = mkdtempSync(join(tmpdir(), "sendora-dts-"));
  try {
    execFileSync(join(here, "node_modules/.bin/tsc"), ["-p", here, "--emitDeclarationOnly", "--outDir", dir], { stdio: "inherit" });
    // Private members are no one's business: drop them and their comments.
    const d = readFileSync(join(dir, "sendora.d.ts"), "utf8").replace(/(\n\s*\/\*\*(?:(?!\*\/)[^])*\*\/)?\n\s*private [^;]*;/g, "");
    if (/^import /m.test(d)) throw new Error("sendora.d.ts imports another module; keep the public types in src/sendora.ts");
    return `/*! Sendora web SDK ${pkg.version}: types of sendora.mjs (default export) and window.Sendora (sendora.js) */\n` + d;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args.has("--check")) {
  const stale = Object.keys(files).filter((f) => {
    try {
      return readFileSync(join(out, f), "utf8") !== files[f];
    } catch {
      return true;
    }
  });
  if (stale.length) {
    console.error(`sdk: ${stale.join(", ")} in web/static/sdk/v1 differ from a fresh build of sdk/web/src; run make sdk and commit them`);
    process.exit(1);
  }
  console.log("sdk: web/static/sdk/v1 matches a fresh build");
} else if (!args.has("--size")) {
  mkdirSync(out, { recursive: true });
  for (const [f, body] of Object.entries(files)) writeFileSync(join(out, f), body);
}
for (const f of ["sendora.js", "sendora.mjs"]) {
  const b = Buffer.from(files[f]);
  console.log(`sdk: ${f} ${b.length} bytes minified, ${gzipSync(b, { level: 9 }).length} bytes gzipped`);
}
