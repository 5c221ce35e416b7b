import { defaultClientConditions, defineConfig, type ProxyOptions } from 'vite';
import react from '@vitejs/plugin-react';

// The page talks to same-origin /graphql; Vite forwards it to keycard.
// KEYCARD_URL is where keycard listens (not exposed to the page).
const keycardUrl = process.env.KEYCARD_URL ?? 'http://127.0.0.1:8080';

const proxy: Record<string, ProxyOptions> = {
  '/graphql': {
    target: keycardUrl,
    // Keep the browser's Host, as a reverse proxy in production would: the
    // page's Origin then matches the Host keycard sees, which its CSRF check
    // accepts as the API's own origin.
    changeOrigin: false,
  },
};

export default defineConfig({
  plugins: [react()],
  resolve: {
    // @keycard/client (clients/js, linked by npm) is used as TypeScript
    // source through its "source" export condition: no build step first.
    conditions: ['source', ...defaultClientConditions],
    // Its imports of urql resolve to this app's copy, not to one that an
    // `npm ci` in clients/js may have put beside its source.
    dedupe: ['@urql/core', '@urql/exchange-auth'],
  },
  server: { proxy },
  preview: { proxy },
});
