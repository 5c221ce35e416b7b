// Builds the playground that keycard embeds (../dist) from the pinned
// packages of package-lock.json: GraphiQL, React, Monaco's workers, one
// page. esbuild's output depends only on its inputs, so the same lock gives
// the same bytes on any machine.
//
//   node build.mjs          rebuild ../dist
//   node build.mjs --check  rebuild elsewhere; fail unless ../dist is identical
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const uiDir = fileURLToPath(new URL('.', import.meta.url));
const distDir = join(uiDir, '..', 'dist');
const check = process.argv.includes('--check');

const common = {
  absWorkingDir: uiDir,
  bundle: true,
  minify: true,
  write: true,
  metafile: true,
  logLevel: 'warning',
  target: ['es2022'],
  legalComments: 'eof',
  define: { 'process.env.NODE_ENV': '"production"' },
};

// outputFor is the file esbuild wrote for the entry point named name.
function outputFor(metafile, name, extension) {
  const found = Object.keys(metafile.outputs).filter((file) => basename(file).startsWith(`${name}-`) && file.endsWith(extension));
  if (found.length !== 1) throw new Error(`expected one ${name}*${extension} output, found ${found.join(', ') || 'none'}`);
  return basename(found[0]);
}

async function buildInto(outdir) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(join(outdir, 'playground'), { recursive: true });
  const assets = join(outdir, 'playground');

  // Monaco's language services, each a classic worker script of its own.
  const workers = await build({
    ...common,
    entryPoints: {
      'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
      'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
      'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
    },
    format: 'iife',
    outdir: assets,
    entryNames: '[name]-[hash]',
  });
  const workerURL = (name) => JSON.stringify(`./${outputFor(workers.metafile, name, '.js')}`);

  const page = await build({
    ...common,
    entryPoints: { main: 'src/main.jsx' },
    format: 'esm',
    jsx: 'automatic',
    outdir: assets,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file', '.svg': 'file', '.png': 'file' },
    define: {
      ...common.define,
      EDITOR_WORKER: workerURL('editor.worker'),
      JSON_WORKER: workerURL('json.worker'),
      GRAPHQL_WORKER: workerURL('graphql.worker'),
    },
  });
  const html = readFileSync(join(uiDir, 'src', 'index.html'), 'utf8')
    .replace('{{main.css}}', outputFor(page.metafile, 'main', '.css'))
    .replace('{{main.js}}', outputFor(page.metafile, 'main', '.js'));
  writeFileSync(join(outdir, 'index.html'), html);
}

// files maps each file under dir (relative name) to its SHA-256.
function files(dir, prefix = '') {
  const out = new Map();
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const name = join(prefix, entry.name);
    if (entry.isDirectory()) for (const [k, v] of files(dir, name)) out.set(k, v);
    else out.set(name, createHash('sha256').update(readFileSync(join(dir, name))).digest('hex'));
  }
  return out;
}

if (!check) {
  await buildInto(distDir);
  for (const [name] of files(distDir)) console.log(`playground/dist/${name}`);
} else {
  const scratch = mkdtempSync(join(tmpdir(), 'keycard-playground-'));
  try {
    await buildInto(join(scratch, 'dist'));
    const want = files(join(scratch, 'dist'));
    const have = files(distDir);
    const problems = [];
    for (const [name, sum] of want) {
      if (!have.has(name)) problems.push(`missing: playground/dist/${name}`);
      else if (have.get(name) !== sum) problems.push(`differs: playground/dist/${name}`);
    }
    for (const name of have.keys()) if (!want.has(name)) problems.push(`not built from the lock: playground/dist/${name}`);
    if (problems.length > 0) {
      console.error(problems.join('\n'));
      console.error('playground/dist does not match a build from playground/ui/package-lock.json: run `npm ci && npm run build` in playground/ui and commit the result');
      process.exit(1);
    }
    console.log(`playground/dist matches the build from the lock (${want.size} files)`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
