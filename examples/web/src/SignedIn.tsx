import { useMutation, useQuery } from 'urql';
import { hasCode } from '@keycard/client';
import type { LogoutScope, MeQuery } from './gql/graphql';
import { logoutMutation, revokeSessionMutation, sessionsQuery } from './operations';
import { Passkeys } from './Passkeys';
import { Problems } from './Problems';
import { session } from './session';

const when = (time: string) => new Date(time).toLocaleString();

export function SignedIn({ user }: { user: MeQuery['me'] }) {
  return (
    <>
      <section aria-labelledby="who-am-i">
        <h2 id="who-am-i">Who am I</h2>
        <dl>
          <dt>Username</dt>
          <dd data-testid="username">{user.username}</dd>
          <dt>Roles</dt>
          <dd data-testid="roles">{user.roles.length > 0 ? user.roles.join(', ') : 'none'}</dd>
          <dt>Email</dt>
          <dd>{user.email ?? '—'}</dd>
          <dt>User id</dt>
          <dd>
            <code>{user.id}</code>
          </dd>
          <dt>Member since</dt>
          <dd>{when(user.createdAt)}</dd>
        </dl>
        <LogOut />
      </section>
      <Sessions />
      <Passkeys />
    </>
  );
}

function LogOut() {
  const [logout, sendLogout] = useMutation(logoutMutation);
  async function logOut(scope: LogoutScope) {
    const result = await sendLogout({ scope });
    // UNAUTHENTICATED: the session had ended already; signed out either way.
    // Anything else (keycard unreachable) leaves the session alive: say so.
    if (!result.error || hasCode(result.error, 'UNAUTHENTICATED')) session.signOut();
  }
  return (
    <div className="actions">
      <button type="button" disabled={logout.fetching} onClick={() => logOut('CURRENT')}>
        Log out of this device
      </button>
      <button type="button" disabled={logout.fetching} onClick={() => logOut('ALL')}>
        Log out of all devices
      </button>
      <Problems error={logout.error} />
    </div>
  );
}

function Sessions() {
  const [sessions, reexecuteSessions] = useQuery({ query: sessionsQuery, requestPolicy: 'cache-and-network' });
  const [revocation, revoke] = useMutation(revokeSessionMutation);
  async function revokeSession(id: string) {
    const result = await revoke({ id });
    if (!result.error) reexecuteSessions({ requestPolicy: 'network-only' });
  }
  return (
    <section aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <button type="button" disabled={sessions.fetching} onClick={() => reexecuteSessions({ requestPolicy: 'network-only' })}>
        Reload list
      </button>
      <Problems error={sessions.error ?? revocation.error} />
      {sessions.data && (
        <ul className="sessions">
          {sessions.data.sessions.map((device) => (
            <li key={device.id} data-testid="session" data-current={device.current}>
              <div>
                <span className="agent">{device.userAgent || 'unknown client'}</span>
                {device.current && <span className="badge">this device</span>}
              </div>
              <small>
                {device.ip} · signed in {when(device.createdAt)} · last used {when(device.lastUsedAt)}
              </small>
              {/* This device signs out with "Log out of this device". */}
              {!device.current && (
                <button type="button" disabled={revocation.fetching} onClick={() => revokeSession(device.id)}>
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
