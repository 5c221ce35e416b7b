/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** GraphQL endpoint; default same-origin `/graphql` (Vite's proxy to keycard). */
  readonly VITE_GRAPHQL_URL?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
