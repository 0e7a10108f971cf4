// Secrets by name and key names. Values are write-only: typed into password fields, sent once, cleared, never shown.
import { useId, useState, type FormEvent } from 'react';
import { isSignedOut, problemOf, type Problem } from '../error-text.js';
import { useSignedIn } from '../session.js';
import { Field, Loading, ProblemNotice, Section } from '../ui.js';
import { useLoad } from '../use-load.js';

interface Row {
  key: string;
  value: string;
}

export function SecretsPage() {
  const { client, me } = useSignedIn();
  const secrets = useLoad(() => client.secrets.list(), [client, me.orgId]);
  const apps = useLoad(() => client.apps.list(), [client, me.orgId]);
  const appName = (id: string | null) => (id ? (apps.data?.find((a) => a.id === id)?.name ?? id) : '');
  return (
    <>
      <h1>Secrets</h1>
      <p className="muted">Values are never shown again once saved; apps read them as environment variables or files.</p>
      <ProblemNotice problem={secrets.problem} />
      <Section title="Secrets in this organization">
        {secrets.loading && !secrets.data ? (
          <Loading what="secrets" />
        ) : secrets.data && secrets.data.length === 0 ? (
          <p className="muted">No secrets yet. Create one below.</p>
        ) : secrets.data ? (
          <table className="list">
            <caption className="sr-only">Secrets</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Scope</th>
                <th scope="col">Keys</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {secrets.data.map((s) => (
                <tr key={`${s.name}/${s.appId ?? ''}`}>
                  <td>{s.name}</td>
                  <td>{s.scope === 'org' ? 'all apps' : `app ${appName(s.appId)}`}</td>
                  <td>{s.keys.join(', ')}</td>
                  <td>{new Date(s.updatedAt).toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Section>
      <Section title="Create or replace a secret">
        <SecretForm apps={apps.data?.map((a) => ({ id: a.id, name: a.name })) ?? []} onSaved={() => void secrets.reload()} />
      </Section>
    </>
  );
}

function SecretForm({ apps, onSaved }: { apps: { id: string; name: string }[]; onSaved(): void }) {
  const { client, signOut } = useSignedIn();
  const id = useId();
  const [name, setName] = useState('');
  const [scope, setScope] = useState('');
  const [rows, setRows] = useState<Row[]>([{ key: '', value: '' }]);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState('');
  const set = (i: number, patch: Partial<Row>) => setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const data: Record<string, string> = {};
    for (const r of rows) if (r.key.trim()) data[r.key.trim()] = r.value;
    const local: Record<string, string> = {};
    if (!name.trim()) local.name = 'Give the secret a name.';
    if (!Object.keys(data).length) local.data = 'Add at least one key with its value.';
    if (Object.keys(local).length) return setProblem({ message: 'Some fields need attention.', fields: local });
    setBusy(true);
    setProblem(null);
    setSaved('');
    try {
      const s = await client.secrets.set(name.trim(), data, scope ? { appId: scope } : {});
      // The values leave the page's state as soon as the server has them.
      setRows([{ key: '', value: '' }]);
      setName('');
      setSaved(`Saved ${s.name} (${s.keys.join(', ')}).`);
      onSaved();
    } catch (err) {
      if (isSignedOut(err)) return void signOut();
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} noValidate>
      <ProblemNotice problem={problem} />
      <Field label="Secret name" name="secret-name" value={name} onChange={(e) => setName(e.target.value)} error={problem?.fields.name} autoComplete="off" spellCheck={false} />
      <div className="field">
        <label htmlFor={`${id}-scope`}>Scope</label>
        <select id={`${id}-scope`} value={scope} onChange={(e) => setScope(e.target.value)}>
          <option value="">All apps of the organization</option>
          {apps.map((a) => (
            <option key={a.id} value={a.id}>
              Only app {a.name}
            </option>
          ))}
        </select>
      </div>
      <fieldset>
        <legend>Keys and values</legend>
        {rows.map((r, i) => (
          <div className="env-row" key={i}>
            <label htmlFor={`${id}-k${i}`} className="sr-only">
              Key {i + 1}
            </label>
            <input id={`${id}-k${i}`} placeholder="KEY" value={r.key} autoComplete="off" spellCheck={false} onChange={(e) => set(i, { key: e.target.value })} />
            <label htmlFor={`${id}-v${i}`} className="sr-only">
              Value {i + 1}
            </label>
            <input id={`${id}-v${i}`} type="password" placeholder="value" value={r.value} autoComplete="new-password" onChange={(e) => set(i, { value: e.target.value })} />
            <button type="button" onClick={() => setRows(rows.filter((_, j) => j !== i))} aria-label={`Remove key ${r.key || i + 1}`} disabled={rows.length === 1}>
              Remove
            </button>
          </div>
        ))}
        <button type="button" onClick={() => setRows([...rows, { key: '', value: '' }])}>
          Add key
        </button>
        {problem?.fields.data && <p className="field-error">{problem.fields.data}</p>}
      </fieldset>
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Saving…' : 'Save secret'}
      </button>
      <p role="status" className="muted">
        {saved}
      </p>
    </form>
  );
}
