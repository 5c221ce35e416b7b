import { useMemo, useSyncExternalStore } from 'react';
import { Provider, useQuery } from 'urql';
import { hasCode, type SessionState } from '@keycard/client';
import { makeClient } from './client';
import { meQuery } from './operations';
import { Problems } from './Problems';
import { session } from './session';
import { SignedIn } from './SignedIn';
import { SignedOut } from './SignedOut';

const subscribe = (onChange: () => void) => session.subscribe(onChange);
const currentState = () => session.state;

export function App() {
  const state = useSyncExternalStore(subscribe, currentState);
  // A new client (and a fresh component tree) whenever who is signed in may
  // have changed, so nothing cached for one user is shown to the next.
  const client = useMemo(() => makeClient(session), [state.generation]);
  return (
    <Provider value={client}>
      <header>
        <h1>keycard example</h1>
      </header>
      <main>
        <SessionNotice state={state} />
        <Home key={state.generation} />
      </main>
    </Provider>
  );
}

/** What the user should know about the session beyond who they are. */
function SessionNotice({ state }: { state: SessionState }) {
  if (state.status === 'signedIn' && state.mode === 'bearer') {
    return (
      <p role="status" className="notice" data-testid="bearer-mode">
        <strong>Cookie mode is off.</strong> keycard sent the refresh token to this page instead of keeping it in
        an <code>HttpOnly</code> cookie, so this session lives in this tab's memory only and ends when you reload.
        Start keycard with <code>KEYCARD_REFRESH_COOKIE=on</code> to stay signed in across reloads.
      </p>
    );
  }
  if (state.status === 'signedOut' && state.reason === 'revoked') {
    return (
      <p role="status" className="notice" data-testid="signed-out-elsewhere">
        You were signed out on another device. Sign in again to continue.
      </p>
    );
  }
  if (state.status === 'signedOut' && state.reason === 'disabled') {
    return (
      <p role="status" className="notice" data-testid="account-disabled">
        This account has been disabled.
      </p>
    );
  }
  return null;
}

// "Who am I" decides what to show. On a page load there is no access token
// yet, so the auth exchange first calls refresh with the cookie: a user who
// was signed in stays signed in across reloads.
function Home() {
  const [me, reexecuteMe] = useQuery({ query: meQuery });
  if (me.data) return <SignedIn user={me.data.me} />;
  if (me.error && !hasCode(me.error, 'UNAUTHENTICATED')) {
    return (
      <section>
        <Problems error={me.error} />
        <button type="button" onClick={() => reexecuteMe({ requestPolicy: 'network-only' })}>
          Try again
        </button>
      </section>
    );
  }
  if (me.error) return <SignedOut />;
  return <p aria-busy="true">Loading…</p>;
}
