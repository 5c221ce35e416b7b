// GraphiQL keeps its state (tabs, history) in localStorage. Headers carry
// bearer tokens and variables carry passwords: neither may outlive the page
// in a store that every script of this origin, and anyone at the keyboard
// later, can read. GraphiQL's shouldPersistHeaders=false keeps headers out
// of the tab state, but its history plugin stores them regardless; this
// storage drops both from whatever GraphiQL writes, so no code path of it
// can persist them.

const secretKeys = new Set(['headers', 'variables']);
const namespace = 'graphiql:';

// withoutSecrets nulls every "headers" and "variables" member, at any depth.
function withoutSecrets(value) {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, member]) => [key, secretKeys.has(key) ? null : withoutSecrets(member)]),
  );
}

function sanitize(key, value) {
  if (secretKeys.has(key.slice(namespace.length))) return null;
  try {
    return JSON.stringify(withoutSecrets(JSON.parse(value)));
  } catch {
    return value; // not JSON: the query text, a theme name
  }
}

export function secretFreeStorage(backing = window.localStorage) {
  const ownKeys = () => Object.keys(backing).filter((key) => key.startsWith(namespace));
  // Whatever an older playground may have left behind goes at once.
  for (const key of ownKeys()) {
    const clean = sanitize(key, backing.getItem(key));
    if (clean === null) backing.removeItem(key);
    else if (clean !== backing.getItem(key)) backing.setItem(key, clean);
  }
  return {
    getItem: (key) => backing.getItem(key),
    setItem(key, value) {
      const clean = sanitize(key, String(value));
      if (clean === null) backing.removeItem(key);
      else backing.setItem(key, clean);
    },
    removeItem: (key) => backing.removeItem(key),
    clear() {
      for (const key of ownKeys()) backing.removeItem(key);
    },
    get length() {
      return ownKeys().length;
    },
  };
}
