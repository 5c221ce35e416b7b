// Fails when src/gql/ is not what graphql-codegen makes today from
// ../../graph/schema.graphqls and the operations in src/: regenerates into a
// temporary directory and compares file by file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const committed = 'src/gql';
const fresh = mkdtempSync(join(tmpdir(), 'keycard-codegen-'));
try {
  const run = spawnSync(join('node_modules', '.bin', 'graphql-codegen'), ['--config', 'codegen.ts', '--silent'], {
    env: { ...process.env, CODEGEN_OUT_DIR: fresh + '/' },
    stdio: 'inherit',
  });
  if (run.status !== 0) {
    console.error(`graphql-codegen failed (exit ${run.status ?? run.signal})`);
    process.exit(1);
  }
  const names = new Set([...readdirSync(fresh), ...(existsSync(committed) ? readdirSync(committed) : [])]);
  const stale = [...names].sort().filter((name) => {
    const want = join(fresh, name);
    const have = join(committed, name);
    return !existsSync(want) || !existsSync(have) || readFileSync(want, 'utf8') !== readFileSync(have, 'utf8');
  });
  if (stale.length > 0) {
    console.error(`src/gql/ is out of date with the schema or the operations (${stale.join(', ')} differ).`);
    console.error('Run `npm run codegen` and commit src/gql/.');
    process.exit(1);
  }
  console.log('src/gql/ is up to date with graph/schema.graphqls');
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
