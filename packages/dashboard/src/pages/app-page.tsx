import { useEffect, useId, useState } from 'react';
import { TERMINAL_STATUSES, type AppDetail, type Deployment, type DeploymentLogLine } from '@cynchro/sdk';
import { isSignedOut, problemOf, type Problem } from '../error-text.js';
import { Link, navigate } from '../router.js';
import { useSignedIn } from '../session.js';
import { Loading, ProblemNotice, Section, Status } from '../ui.js';
import { useLoad } from '../use-load.js';
import { AppStats } from './app-stats.js';
import { DeployForm } from './deploy-form.js';
import { LiveLogs } from './live-logs.js';

const done = (d: Deployment) => TERMINAL_STATUSES.includes(d.status);

export function AppPage({ appId }: { appId: string }) {
  const { client } = useSignedIn();
  // The app's status and deployments change on the server as they run: read again every 2 s.
  const detail = useLoad(() => client.apps.get(appId), [client, appId], { everyMs: 2000 });
  if (detail.loading && !detail.data) return <Loading what="the app" />;
  if (!detail.data) {
    return (
      <>
        <h1>App</h1>
        <ProblemNotice problem={detail.problem} />
        <p>
          <Link to="/">Back to your apps</Link>
        </p>
      </>
    );
  }
  return <AppView detail={detail.data} problem={detail.problem} reload={detail.reload} />;
}

function AppView({ detail, problem, reload }: { detail: AppDetail; problem: Problem | null; reload(): Promise<void> }) {
  const { app, deployments } = detail;
  const replicas = app.services.reduce((n, s) => n + s.replicas, 0);
  const active = deployments.find((d) => !done(d));
  const service = app.services[0];
  return (
    <>
      <div className="page-head">
        <h1>{app.name}</h1>
        <Status value={app.status} />
      </div>
      <ProblemNotice problem={problem} />
      <dl className="facts">
        <dt>Status</dt>
        <dd>
          {app.status}
          {app.statusReason ? ` — ${app.statusReason}` : ''}
        </dd>
        <dt>URL</dt>
        <dd>
          <a href={app.url} rel="noreferrer noopener" target="_blank">
            {app.url}
          </a>
        </dd>
        <dt>Replicas</dt>
        <dd>{replicas}</dd>
        {app.repo ? (
          <>
            <dt>Repository</dt>
            <dd>
              {app.repo.url} ({app.repo.branch}){app.repo.hasToken ? ', with a stored token' : ''}
            </dd>
          </>
        ) : (
          <>
            <dt>Image</dt>
            <dd>{service?.image ?? '—'}</dd>
          </>
        )}
        <dt>Environment</dt>
        <dd>{[...app.envKeys, ...app.envFrom.map((s) => `${s} (secret)`), ...app.secretFiles.map((s) => `${s} (secret files)`)].join(', ') || 'none'}</dd>
      </dl>
      <Actions appId={app.id} name={app.name} reload={reload} />
      {active && <DeploymentProgress key={active.id} appId={app.id} deployment={active} reload={reload} />}
      <Section title="Deployments">
        <Deployments appId={app.id} deployments={deployments} reload={reload} />
      </Section>
      <Section title="Replicas">
        <AppStats appId={app.id} />
      </Section>
      <Section title="Live logs">
        <LiveLogs appId={app.id} />
      </Section>
      <Section title="Deploy a new version">
        <DeployForm
          fixedName={app.name}
          defaults={{
            image: service?.image ?? '',
            port: service?.port ?? null,
            replicas: service?.replicas ?? 1,
            envKeys: app.envKeys,
            envFrom: app.envFrom,
            secretFiles: app.secretFiles,
            repo: app.repo && { ...app.repo, ...(service?.build ? { dockerfile: service.build.dockerfile, context: service.build.context } : {}) },
          }}
          onDeployed={() => void reload()}
        />
        <p className="hint">Variable values are never shown: enter the values of the variables you keep again.</p>
      </Section>
    </>
  );
}

/** Restart, stop, roll back, delete (after typing the app's name). */
function Actions({ appId, name, reload }: { appId: string; name: string; reload(): Promise<void> }) {
  const { client, signOut } = useSignedIn();
  const id = useId();
  const [busy, setBusy] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [note, setNote] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [typed, setTyped] = useState('');

  const act = async (what: string, fn: () => Promise<unknown>, after?: () => void) => {
    setBusy(what);
    setProblem(null);
    setNote('');
    try {
      await fn();
      setNote(`${what}: requested.`);
      if (after) after();
      else await reload();
    } catch (e) {
      if (isSignedOut(e)) return void signOut();
      setProblem(problemOf(e));
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="card">
      <div className="actions" role="group" aria-label="App actions">
        <button type="button" disabled={!!busy} onClick={() => void act('Restart', () => client.apps.restart(appId))}>
          Restart
        </button>
        <button type="button" disabled={!!busy} onClick={() => void act('Stop', () => client.apps.stop(appId))}>
          Stop
        </button>
        <button type="button" disabled={!!busy} onClick={() => void act('Rollback', () => client.apps.rollback(appId))}>
          Roll back
        </button>
        <button type="button" className="danger" disabled={!!busy} aria-expanded={confirming} onClick={() => setConfirming(!confirming)}>
          Delete…
        </button>
      </div>
      <ProblemNotice problem={problem} />
      <p role="status" className="muted">
        {busy ? `${busy}…` : note}
      </p>
      {confirming && (
        <form
          className="confirm"
          onSubmit={(e) => {
            e.preventDefault();
            if (typed === name) void act('Delete', () => client.apps.delete(appId), () => navigate('/'));
          }}
        >
          <p>
            Deleting removes the app, its containers, volumes and history. This cannot be undone.
          </p>
          <label htmlFor={`${id}-confirm`}>Type {name} to confirm</label>
          <input id={`${id}-confirm`} value={typed} autoComplete="off" onChange={(e) => setTyped(e.target.value)} autoFocus />
          <button type="submit" className="danger" disabled={typed !== name || !!busy}>
            Delete permanently
          </button>
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </form>
      )}
    </div>
  );
}

function Deployments({ appId, deployments, reload }: { appId: string; deployments: Deployment[]; reload(): Promise<void> }) {
  const { client } = useSignedIn();
  const [problem, setProblem] = useState<Problem | null>(null);
  if (deployments.length === 0) return <p className="muted">No deployments yet.</p>;
  return (
    <>
      <ProblemNotice problem={problem} />
      <table className="list deployments">
        <caption className="sr-only">Deployments, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Deployment</th>
            <th scope="col">Status</th>
            <th scope="col">Trigger</th>
            <th scope="col">Started</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {deployments.map((d) => (
            <tr key={d.id} data-deployment={d.id}>
              <td>
                <code>{d.id.slice(0, 12)}</code>
              </td>
              <td>
                <Status value={d.status} />
              </td>
              <td>
                {d.trigger}
                {d.rollbackOf ? ` of ${d.rollbackOf.slice(0, 12)}` : ''}
              </td>
              <td>{new Date(d.createdAt).toLocaleString()}</td>
              <td>
                {d.error && <span className="field-error">{d.error}</span>}
                {!done(d) && (
                  <button
                    type="button"
                    aria-label={`Cancel deployment ${d.id.slice(0, 12)}`}
                    onClick={() => {
                      setProblem(null);
                      void client.apps.deployments.cancel(appId, d.id).then(reload, (e: unknown) => setProblem(problemOf(e)));
                    }}
                  >
                    Cancel
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** The running deployment's log as it happens (the SDK replays it from the start, then follows to the end). */
function DeploymentProgress({ appId, deployment, reload }: { appId: string; deployment: Deployment; reload(): Promise<void> }) {
  const { client } = useSignedIn();
  const [lines, setLines] = useState<DeploymentLogLine[]>([]);
  const [final, setFinal] = useState<Deployment | null>(null);
  useEffect(() => {
    const ctl = new AbortController();
    void (async () => {
      try {
        for await (const m of client.apps.deployments.logs.stream(appId, deployment.id, { signal: ctl.signal })) {
          if (m.type === 'log') setLines((l) => [...l, m].slice(-500));
          else setFinal(m.deployment);
        }
        if (!ctl.signal.aborted) void reload();
      } catch {
        // The page's own refresh shows the deployment's status either way.
      }
    })();
    return () => ctl.abort();
  }, [client, appId, deployment.id, reload]);
  return (
    <Section title={`Deployment ${deployment.id.slice(0, 12)} in progress`}>
      <p role="status">
        Status: <Status value={final?.status ?? deployment.status} />
      </p>
      <pre className="log-box short" role="log" aria-label="Deployment log" tabIndex={0}>
        {lines.map((l) => `${l.text}\n`).join('') || 'Waiting for the first line…'}
      </pre>
    </Section>
  );
}
