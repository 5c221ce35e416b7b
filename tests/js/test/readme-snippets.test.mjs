// Every ```ts block of the README is type-checked (strict) against the
// client versions pinned in this package, each block as a module of its
// own: a snippet that stops compiling on a client upgrade fails here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { repoRoot } from '../lib/keycard.mjs';

const jsDir = fileURLToPath(new URL('..', import.meta.url));
const snippetsDir = join(jsDir, '.snippets');

/** tsBlocks returns each ```ts block of markdown with the line it starts on. */
export function tsBlocks(markdown) {
  const blocks = [];
  let current = null;
  markdown.split('\n').forEach((line, index) => {
    if (current === null && /^```(ts|typescript)\s*$/.test(line)) {
      current = { firstLine: index + 2, lines: [] };
    } else if (current !== null && /^```\s*$/.test(line)) {
      blocks.push({ firstLine: current.firstLine, code: current.lines.join('\n') + '\n' });
      current = null;
    } else if (current !== null) {
      current.lines.push(line);
    }
  });
  assert.equal(current, null, 'README.md has an unclosed ```ts block');
  return blocks;
}

test('every TypeScript block of README.md compiles against the pinned clients', () => {
  const blocks = tsBlocks(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
  // The README has the urql, Apollo and persisted-query clients: finding
  // none means the extraction broke, not that all is well.
  assert.ok(blocks.length >= 3, `found ${blocks.length} \`\`\`ts blocks in README.md`);

  rmSync(snippetsDir, { recursive: true, force: true });
  mkdirSync(snippetsDir);
  const startOf = new Map();
  blocks.forEach(({ firstLine, code }, i) => {
    const file = `readme-${i + 1}.ts`;
    writeFileSync(join(snippetsDir, file), code);
    startOf.set(file, firstLine);
  });

  const tsc = spawnSync(join(jsDir, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.snippets.json', '--pretty', 'false'], {
    cwd: jsDir,
    encoding: 'utf8',
  });
  // tsc names .snippets/readme-N.ts(line,col); say README.md:line instead.
  const output = `${tsc.stdout}${tsc.stderr}`.replace(/\.snippets\/(readme-\d+\.ts)\((\d+),(\d+)\)/g, (_, file, line, col) => {
    return `README.md:${startOf.get(file) + Number(line) - 1}:${col}`;
  });
  assert.equal(tsc.status, 0, `tsc found errors in README.md's TypeScript:\n${output}`);
});
