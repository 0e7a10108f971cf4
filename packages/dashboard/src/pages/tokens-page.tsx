// API tokens for CI and scripts: the secret is shown once, with a copy button, and never again.
import { useId, useState, type FormEvent } from 'react';
import type { ApiTokenScope, CreatedApiToken } from '@cynchro/sdk';
import { isSignedOut, problemOf, type Problem } from '../error-text.js';
import { CopyButton } from '../copy-button.js';
import { useSignedIn } from '../session.js';
import { Field, Loading, ProblemNotice, Section } from '../ui.js';
import { useLoad } from '../use-load.js';

const SCOPES: { scope: ApiTokenScope; what: string }[] = [
  { scope: 'read', what: 'read apps, logs and deployments' },
  { scope: 'deploy', what: 'deploy, restart, stop, roll back' },
  { scope: 'secrets', what: 'write secrets' },
  { scope: 'manage', what: 'delete apps and manage the org' },
];

export function TokensPage() {
  const { client, me, signOut } = useSignedIn();
  const tokens = useLoad(() => client.tokens.list(), [client, me.orgId]);
  const id = useId();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<ApiTokenScope[]>(['read', 'deploy']);
  const [days, setDays] = useState('90');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [created, setCreated] = useState<CreatedApiToken | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    setCreated(null);
    try {
      setCreated(await client.tokens.create({ name, scopes, expiresInDays: Number(days) || 90 }));
      setName('');
      await tokens.reload();
    } catch (err) {
      if (isSignedOut(err)) return void signOut();
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  };
  const revoke = (tokenId: string) => {
    setProblem(null);
    client.tokens.revoke(tokenId).then(tokens.reload, (e: unknown) => setProblem(problemOf(e)));
  };

  return (
    <>
      <h1>API tokens</h1>
      <Section title="Create a token">
        <form onSubmit={submit} noValidate>
          <ProblemNotice problem={problem} />
          <div className="row">
            <Field label="Token name" value={name} onChange={(e) => setName(e.target.value)} error={problem?.fields.name} hint="What uses it, e.g. ci-main." />
            <Field label="Expires in (days)" inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value)} error={problem?.fields.expiresInDays} />
          </div>
          <fieldset aria-describedby={problem?.fields.scopes ? `${id}-scopes` : undefined}>
            <legend>Scopes</legend>
            {SCOPES.map((s) => (
              <label key={s.scope} className="check">
                <input type="checkbox" checked={scopes.includes(s.scope)} onChange={(e) => setScopes(e.target.checked ? [...scopes, s.scope] : scopes.filter((x) => x !== s.scope))} />
                {s.scope} <span className="muted">— {s.what}</span>
              </label>
            ))}
            {problem?.fields.scopes && (
              <p id={`${id}-scopes`} className="field-error">
                {problem.fields.scopes}
              </p>
            )}
          </fieldset>
          <button type="submit" className="primary" disabled={busy}>
            Create token
          </button>
        </form>
        {created && (
          <div className="notice shown-once" role="status">
            <p>Token {created.token.name} created. Copy its secret now: it is shown only once.</p>
            Secret:{' '}
          <code className="secret">
              {created.secret}
            </code>{' '}
            <CopyButton value={created.secret} label="Copy token secret" />
          </div>
        )}
      </Section>
      <Section title="Tokens">
        {tokens.loading && !tokens.data ? (
          <Loading what="tokens" />
        ) : tokens.data && tokens.data.length === 0 ? (
          <p className="muted">No API tokens.</p>
        ) : tokens.data ? (
          <table className="list">
            <caption className="sr-only">API tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Scopes</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td>{t.scopes.join(', ')}</td>
                  <td>{new Date(t.expiresAt).toLocaleDateString()}</td>
                  <td>{t.lastUsedAt ? new Date(t.lastUsedAt).toLocaleString() : 'never'}</td>
                  <td>
                    <button type="button" onClick={() => revoke(t.id)}>
                      Revoke {t.name}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Section>
    </>
  );
}
