// Passkeys: "Add a passkey" and the list (signed in), "Sign in with a
// passkey" (signed out). Each ceremony is two mutations around the
// browser's dialog: begin (keycard answers the options JSON), the dialog
// (@keycard/client's createPasskey/getPasskey), finish (the credential JSON).
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { createPasskey, getPasskey, passkeysSupported } from '@keycard/client';
import {
  beginPasskeyLoginMutation,
  beginPasskeyRegistrationMutation,
  finishPasskeyLoginMutation,
  finishPasskeyRegistrationMutation,
  passkeysQuery,
  removePasskeyMutation,
} from './operations';
import { Problems } from './Problems';
import { session } from './session';

const when = (time: string) => new Date(time).toLocaleString();

/** What to tell the user when the browser's dialog did not give a credential. */
function dialogProblem(error: unknown): string {
  if (error instanceof DOMException) {
    switch (error.name) {
      case 'NotAllowedError':
        return 'The passkey dialog was cancelled, or no passkey for this site was chosen.';
      case 'InvalidStateError':
        return 'This device already holds a passkey of yours.';
      case 'SecurityError':
        return 'This page may not use passkeys (its address is not one keycard accepts).';
    }
  }
  return error instanceof Error ? error.message : String(error);
}

function DialogProblem({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <ul role="alert" className="problems">
      <li data-code="PASSKEY_DIALOG">{message}</li>
    </ul>
  );
}

/** The signed-in user's passkeys, with "Add a passkey" and "Remove". */
export function Passkeys() {
  const [list, reexecuteList] = useQuery({ query: passkeysQuery, requestPolicy: 'cache-and-network' });
  const [begun, begin] = useMutation(beginPasskeyRegistrationMutation);
  const [finished, finish] = useMutation(finishPasskeyRegistrationMutation);
  const [removal, remove] = useMutation(removePasskeyMutation);
  const [dialog, setDialog] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const reload = () => reexecuteList({ requestPolicy: 'network-only' });

  async function add(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const name = String(new FormData(form).get('passkeyName') ?? '').trim();
    setDialog(null);
    setBusy(true);
    try {
      const started = await begin({});
      if (!started.data) return;
      const { challengeId, options } = started.data.beginPasskeyRegistration;
      let credential: string;
      try {
        credential = await createPasskey(options);
      } catch (error) {
        setDialog(dialogProblem(error));
        return;
      }
      const result = await finish({ challengeId, credential, name: name || null });
      if (result.data) {
        form.reset();
        reload();
      }
    } finally {
      setBusy(false);
    }
  }

  async function removePasskey(id: string) {
    const result = await remove({ id });
    // Every other session of the user ended with it; this one lives on.
    if (!result.error) reload();
  }

  if (!passkeysSupported()) {
    return (
      <section aria-labelledby="passkeys-title">
        <h2 id="passkeys-title">Passkeys</h2>
        <p>This browser does not support passkeys.</p>
      </section>
    );
  }
  return (
    <section aria-labelledby="passkeys-title">
      <h2 id="passkeys-title">Passkeys</h2>
      <Problems error={list.error ?? removal.error} />
      {list.data && list.data.passkeys.length === 0 && <p>No passkeys yet.</p>}
      {list.data && list.data.passkeys.length > 0 && (
        <ul className="sessions">
          {list.data.passkeys.map((passkey) => (
            <li key={passkey.id} data-testid="passkey">
              <span className="agent">{passkey.name}</span>
              <small>
                added {when(passkey.createdAt)} · {passkey.lastUsedAt ? `last used ${when(passkey.lastUsedAt)}` : 'not used yet'}
              </small>
              <button type="button" disabled={removal.fetching} onClick={() => removePasskey(passkey.id)}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={add} aria-labelledby="add-passkey-title">
        <h3 id="add-passkey-title">Add a passkey</h3>
        <label>
          Name (optional) <input name="passkeyName" maxLength={64} placeholder="e.g. work laptop" />
        </label>
        <button type="submit" disabled={busy}>
          Add a passkey
        </button>
        <Problems error={begun.error ?? finished.error} />
        <DialogProblem message={dialog} />
      </form>
    </section>
  );
}

/** "Sign in with a passkey": discoverable, so no username is asked for. */
export function PasskeySignIn() {
  const [begun, begin] = useMutation(beginPasskeyLoginMutation);
  const [finished, finish] = useMutation(finishPasskeyLoginMutation);
  const [dialog, setDialog] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function signIn() {
    setDialog(null);
    setBusy(true);
    try {
      const started = await begin({ username: null });
      if (!started.data) return;
      const { challengeId, options } = started.data.beginPasskeyLogin;
      let credential: string;
      try {
        credential = await getPasskey(options);
      } catch (error) {
        setDialog(dialogProblem(error));
        return;
      }
      const result = await finish({ challengeId, credential });
      if (result.data) session.signIn(result.data.finishPasskeyLogin);
    } finally {
      setBusy(false);
    }
  }

  if (!passkeysSupported()) return null;
  return (
    <section aria-labelledby="passkey-sign-in-title">
      <h2 id="passkey-sign-in-title">Passkey</h2>
      <p>No password: your device checks it is you.</p>
      <button type="button" disabled={busy} onClick={signIn}>
        Sign in with a passkey
      </button>
      <Problems error={begun.error ?? finished.error} />
      <DialogProblem message={dialog} />
    </section>
  );
}
