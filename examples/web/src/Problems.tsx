import type { CombinedError } from '@urql/core';
import { problems } from './errors';

const fieldLabels: Record<string, string> = {
  username: 'Username',
  password: 'Password',
  email: 'Email',
  credential: 'Passkey',
  challengeId: 'Passkey',
  name: 'Name',
};

/** The errors of an operation, as the user should read them. */
export function Problems({ error }: { error: CombinedError | undefined }) {
  if (!error) return null;
  return (
    <ul role="alert" className="problems">
      {problems(error).map((problem, i) => (
        <li key={i} data-code={problem.code}>
          {problem.field && <strong>{fieldLabels[problem.field] ?? problem.field}: </strong>}
          {problem.message}
        </li>
      ))}
    </ul>
  );
}
