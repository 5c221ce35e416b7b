import { useEffect, useState } from 'react';
import { Provider, useQuery } from 'urql';
import { makeClient } from './client';
import { hasCode } from './errors';
import { meQuery } from './operations';
import { Problems } from './Problems';
import { onSignInOrOut } from './session';
import { SignedIn } from './SignedIn';
import { SignedOut } from './SignedOut';

export function App() {
  // A new client (and a fresh component tree) on every sign-in and
  // sign-out, so nothing cached for one user is shown to the next.
  const [app, setApp] = useState(() => ({ client: makeClient(), generation: 0 }));
  useEffect(
    () => onSignInOrOut(() => setApp((old) => ({ client: makeClient(), generation: old.generation + 1 }))),
    [],
  );
  return (
    <Provider value={app.client}>
      <header>
        <h1>keycard example</h1>
      </header>
      <main>
        <Home key={app.generation} />
      </main>
    </Provider>
  );
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
