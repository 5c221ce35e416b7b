import type { FormEvent } from 'react';
import { useMutation } from 'urql';
import { loginMutation, registerMutation } from './operations';
import { PasskeySignIn } from './Passkeys';
import { Problems } from './Problems';
import { session } from './session';

export function SignedOut() {
  return (
    <div className="columns">
      <SignInForm />
      <SignUpForm />
      <PasskeySignIn />
    </div>
  );
}

function formValues(event: FormEvent<HTMLFormElement>) {
  event.preventDefault();
  const form = new FormData(event.currentTarget);
  return (name: string) => String(form.get(name) ?? '');
}

function SignInForm() {
  const [login, signIn] = useMutation(loginMutation);
  async function submit(event: FormEvent<HTMLFormElement>) {
    const value = formValues(event);
    const result = await signIn({ input: { username: value('username'), password: value('password') } });
    if (result.data) session.signIn(result.data.login);
  }
  return (
    <form onSubmit={submit} aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">Sign in</h2>
      <label>
        Username <input name="username" autoComplete="username" required />
      </label>
      <label>
        Password <input name="password" type="password" autoComplete="current-password" required />
      </label>
      <button type="submit" disabled={login.fetching}>
        Sign in
      </button>
      <Problems error={login.error} />
    </form>
  );
}

function SignUpForm() {
  const [registration, register] = useMutation(registerMutation);
  async function submit(event: FormEvent<HTMLFormElement>) {
    const value = formValues(event);
    const email = value('email').trim();
    const result = await register({
      input: { username: value('username'), password: value('password'), email: email || null },
    });
    if (result.data) session.signIn(result.data.register);
  }
  return (
    <form onSubmit={submit} aria-labelledby="sign-up-title">
      <h2 id="sign-up-title">Sign up</h2>
      <label>
        Username <input name="username" autoComplete="username" required />
      </label>
      <label>
        Password <input name="password" type="password" autoComplete="new-password" required />
      </label>
      <label>
        Email (optional) <input name="email" type="email" autoComplete="email" />
      </label>
      <button type="submit" disabled={registration.fetching}>
        Create account
      </button>
      <Problems error={registration.error} />
    </form>
  );
}
