// Operators: the vault (seal status, claim, unseal, seal) and the machines apps run on. Anyone may open the page;
// the server decides (an account not yet an operator gets `forbidden` and sees how to claim).
import { useState, type FormEvent } from 'react';
import { CynchroError } from '@cynchro/sdk';
import { isSignedOut, problemOf, type Problem } from '../error-text.js';
import { useSignedIn } from '../session.js';
import { Field, Loading, ProblemNotice, Section } from '../ui.js';
import { useLoad } from '../use-load.js';

export function OperatorPage() {
  const { client } = useSignedIn();
  const [version, setVersion] = useState(0);
  const status = useLoad(
    () =>
      client.admin.status().then(
        (s) => ({ operator: true as const, sealed: s.sealed }),
        (e: unknown) => {
          if (e instanceof CynchroError && e.code === 'forbidden') return { operator: false as const, sealed: null };
          throw e;
        },
      ),
    [client, version],
  );
  const changed = () => setVersion((v) => v + 1);
  return (
    <>
      <h1>Operator</h1>
      <ProblemNotice problem={status.problem} />
      {status.loading && !status.data ? (
        <Loading what="the vault status" />
      ) : status.data && !status.data.operator ? (
        <Section title="Claim operator rights">
          <p>Only operators manage the vault. If your email is one of the server’s ADMIN_EMAILS, claim operator rights with the operator token the server wrote to <code>$DATA_DIR/operator-token</code>.</p>
          <ClaimForm onDone={changed} />
        </Section>
      ) : status.data ? (
        <>
          <Section title="Vault">
            <p role="status">
              The vault is <strong>{status.data.sealed ? 'sealed' : 'unsealed'}</strong>.{' '}
              {status.data.sealed ? 'Secrets and environment values cannot be read or written until it is unsealed.' : 'Secrets and environment values can be used.'}
            </p>
            {status.data.sealed ? <UnsealForm onDone={changed} /> : <SealButton onDone={changed} />}
          </Section>
          <Nodes />
        </>
      ) : null}
    </>
  );
}

function useAction(say: Record<string, string> = {}) {
  const { signOut } = useSignedIn();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const run = async (fn: () => Promise<unknown>, onDone: () => void) => {
    setBusy(true);
    setProblem(null);
    try {
      await fn();
      onDone();
    } catch (e) {
      if (isSignedOut(e)) return void signOut();
      setProblem(problemOf(e, say));
    } finally {
      setBusy(false);
    }
  };
  return { busy, problem, run };
}

function ClaimForm({ onDone }: { onDone(): void }) {
  const { client } = useSignedIn();
  const [token, setToken] = useState('');
  const { busy, problem, run } = useAction({ forbidden: 'The token is wrong, or your email is not one of the server’s ADMIN_EMAILS.' });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(() => client.admin.claim(token.trim()), onDone);
  };
  return (
    <form onSubmit={submit} noValidate>
      <ProblemNotice problem={problem} />
      <Field label="Operator token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} error={problem?.fields.token} />
      <button type="submit" className="primary" disabled={busy || !token.trim()}>
        Claim
      </button>
    </form>
  );
}

function UnsealForm({ onDone }: { onDone(): void }) {
  const { client } = useSignedIn();
  const [key, setKey] = useState('');
  const { busy, problem, run } = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await client.admin.unseal(key.trim());
      setKey('');
    }, onDone);
  };
  return (
    <form onSubmit={submit} noValidate>
      <ProblemNotice problem={problem} />
      <Field
        label="Master key"
        type="password"
        autoComplete="off"
        value={key}
        onChange={(e) => setKey(e.target.value)}
        error={problem?.fields.key}
        hint="64 hexadecimal characters. The first unseal sets the key; keep it safe, it is never stored."
      />
      <button type="submit" className="primary" disabled={busy || !key.trim()}>
        Unseal
      </button>
    </form>
  );
}

function SealButton({ onDone }: { onDone(): void }) {
  const { client } = useSignedIn();
  const { busy, problem, run } = useAction();
  return (
    <>
      <ProblemNotice problem={problem} />
      <button type="button" className="danger" disabled={busy} onClick={() => void run(() => client.admin.seal(), onDone)}>
        Seal the vault
      </button>
    </>
  );
}

function Nodes() {
  const { client } = useSignedIn();
  const nodes = useLoad(() => client.admin.nodes(), [client]);
  return (
    <Section title="Nodes">
      <ProblemNotice problem={nodes.problem} />
      {nodes.loading && !nodes.data ? (
        <Loading what="nodes" />
      ) : nodes.data ? (
        <table className="list">
          <caption className="sr-only">Nodes</caption>
          <thead>
            <tr>
              <th scope="col">Host</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
              <th scope="col">Availability</th>
              <th scope="col">CPUs</th>
              <th scope="col">Memory</th>
              <th scope="col">Apps</th>
            </tr>
          </thead>
          <tbody>
            {nodes.data.map((n) => (
              <tr key={n.id}>
                <td>{n.hostname}</td>
                <td>{n.role}</td>
                <td>{n.state}</td>
                <td>{n.availability}</td>
                <td>{n.cpus}</td>
                <td>{Math.round(n.memoryMb)} MB</td>
                <td>{n.apps}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}
