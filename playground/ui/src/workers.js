// Monaco runs its language services in web workers. They are bundled next
// to this script (build.mjs defines their hashed file names) and loaded from
// this origin, which the page's CSP (worker-src 'self') allows; nothing is
// fetched from a CDN.
/* global EDITOR_WORKER, JSON_WORKER, GRAPHQL_WORKER */

const workers = { json: JSON_WORKER, graphql: GRAPHQL_WORKER };

globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    return new Worker(new URL(workers[label] ?? EDITOR_WORKER, import.meta.url), { name: label });
  },
};
