// Starts the keycard binary for a test: built from this checkout once per
// process (or KEYCARD_BIN, when set), on a free loopback port, with its own
// SQLite file, and stopped (SIGTERM, then SIGKILL) when the test is done.
//
//   const keycard = await startKeycard({ env: { KEYCARD_REFRESH_COOKIE: 'on' } });
//   after(() => keycard.stop());
//   await keycard.graphql('{ __typename }');
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const jsDir = fileURLToPath(new URL('..', import.meta.url));
export const repoRoot = join(jsDir, '..', '..');

let built;

// keycardBinary is the path of a keycard built from this checkout. go build
// leaves an up-to-date binary alone, so test files after the first wait
// only for Go to see that nothing changed.
export function keycardBinary() {
  if (process.env.KEYCARD_BIN) return process.env.KEYCARD_BIN;
  if (!built) {
    const out = join(jsDir, '.build', 'keycard');
    mkdirSync(join(jsDir, '.build'), { recursive: true });
    const go = spawnSync('go', ['build', '-o', out, '.'], { cwd: repoRoot, stdio: 'inherit' });
    if (go.status !== 0) throw new Error(`go build failed (${go.status ?? go.signal})`);
    built = out;
  }
  return built;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const running = new Set();
// Last resort if the runner dies before a test's after() ran.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * startKeycard runs keycard until stop() and resolves once /readyz answers.
 * The environment holds only what is given here: nothing of the caller's
 * KEYCARD_* variables leaks in. Issuer and public URL are the server's own
 * address, so OAuth metadata and token issuer match where it is reached;
 * rate limits are off unless env sets them (tests are one client).
 */
export async function startKeycard({ env = {}, readyTimeoutMs = 60_000 } = {}) {
  const binary = keycardBinary();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const workDir = mkdtempSync(join(tmpdir(), 'keycard-js-'));
  const child = spawn(binary, [], {
    cwd: workDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: workDir,
      KEYCARD_ADDR: `127.0.0.1:${port}`,
      KEYCARD_DATABASE_URL: `sqlite:${join(workDir, 'keycard.db')}`,
      KEYCARD_ISSUER: url,
      KEYCARD_PUBLIC_URL: url,
      KEYCARD_METRICS_ADDR: '', // off: the default port may be taken
      KEYCARD_RATE_LIMITS: 'off',
      KEYCARD_LOG_LEVEL: 'warn',
      ...env,
    },
  });
  running.add(child);
  const lines = [];
  const keep = (chunk) => {
    lines.push(chunk.toString());
    if (lines.length > 500) lines.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', resolve));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    running.delete(child);
    rmSync(workDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`keycard exited with ${child.exitCode} before it was ready:\n${lines.join('')}`);
    }
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${url}/readyz not ready within ${readyTimeoutMs} ms:\n${lines.join('')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    url,
    port,
    stop,
    /** The last lines keycard logged, for a failing test's message. */
    log: () => lines.join(''),
    /** One GraphQL request over POST, answered as parsed JSON. */
    async graphql(query, variables = {}, headers = {}) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return response.json();
    },
  };
}

/** uniqueName is a username no other test uses. */
export function uniqueName(prefix) {
  return `${prefix}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}
