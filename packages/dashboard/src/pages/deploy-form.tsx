// Deploys an image or a repo build: for a new app (name editable) or a new version of one (name fixed). Deploy sets
// the app's source, port, replicas, environment and secret references to what the form holds. A repo's access token
// is write-only like env values: never shown back, and left blank on a redeploy the server keeps the stored one.
import { useState, type FormEvent, type ReactNode } from 'react';
import { problemOf, isSignedOut, type Problem } from '../error-text.js';
import { useSignedIn } from '../session.js';
import { Field, ProblemNotice } from '../ui.js';
import { useLoad } from '../use-load.js';
import { EnvEditor, envFromRows, type EnvRow } from './env-editor.js';

export interface DeployDefaults {
  name?: string;
  image?: string;
  port?: number | null;
  replicas?: number;
  envKeys?: string[];
  envFrom?: string[];
  secretFiles?: string[];
  /** Set when the app builds from a repo. */
  repo?: { url: string; branch: string; hasToken: boolean; dockerfile?: string; context?: string } | null;
}

type Source = 'image' | 'repo';

export function DeployForm({ fixedName, defaults = {}, onDeployed }: { fixedName?: string; defaults?: DeployDefaults; onDeployed(appId: string, deploymentId: string): void }) {
  const { client, signOut } = useSignedIn();
  const secrets = useLoad(() => client.secrets.list(), [client]);
  const [name, setName] = useState(fixedName ?? defaults.name ?? '');
  const [source, setSource] = useState<Source>(defaults.repo ? 'repo' : 'image');
  const [image, setImage] = useState(defaults.image ?? '');
  const [repo, setRepo] = useState(defaults.repo?.url ?? '');
  const [branch, setBranch] = useState(defaults.repo?.branch ?? '');
  const [repoToken, setRepoToken] = useState('');
  const [dockerfile, setDockerfile] = useState(defaults.repo?.dockerfile ?? '');
  const [buildContext, setBuildContext] = useState(defaults.repo?.context ?? '');
  const [port, setPort] = useState(defaults.port ? String(defaults.port) : '');
  const [replicas, setReplicas] = useState(String(defaults.replicas ?? 1));
  const [env, setEnv] = useState<EnvRow[]>((defaults.envKeys ?? []).map((key) => ({ key, value: '' })));
  const [envFrom, setEnvFrom] = useState<string[]>(defaults.envFrom ?? []);
  const [secretFiles, setSecretFiles] = useState<string[]>(defaults.secretFiles ?? []);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const local: Record<string, string> = {};
    if (!name.trim()) local.name = 'Give the app a name.';
    if (source === 'image' && !image.trim()) local.image = 'Name the image to run.';
    if (source === 'repo' && !/^https?:\/\/\S+$/i.test(repo.trim())) local.repo = 'Give the repository’s http(s) URL, such as https://github.com/acme/api.';
    if (port && !/^\d+$/.test(port)) local.port = 'A port is a number from 1 to 65535.';
    if (!/^\d+$/.test(replicas)) local.replicas = 'A whole number from 1 to 20.';
    if (Object.keys(local).length) return setProblem({ message: 'Some fields need attention.', fields: local });
    setBusy(true);
    setProblem(null);
    try {
      const envMap = envFromRows(env);
      const handle = await client.deploy({
        name: name.trim(),
        ...(source === 'image'
          ? { image: image.trim() }
          : {
              repo: repo.trim(),
              ...(branch.trim() ? { branch: branch.trim() } : {}),
              ...(repoToken ? { repoToken } : {}),
              ...(dockerfile.trim() ? { dockerfile: dockerfile.trim() } : {}),
              ...(buildContext.trim() ? { context: buildContext.trim() } : {}),
            }),
        ...(port ? { port: Number(port) } : {}),
        replicas: Number(replicas),
        ...(Object.keys(envMap).length ? { env: envMap } : {}),
        ...(envFrom.length ? { envFrom } : {}),
        ...(secretFiles.length ? { secretFiles } : {}),
      });
      setRepoToken('');
      onDeployed(handle.appId, handle.deploymentId);
    } catch (err) {
      if (isSignedOut(err)) return void signOut();
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  };

  const orgSecrets = (secrets.data ?? []).filter((s) => s.scope === 'org');
  return (
    <form onSubmit={submit} noValidate className="deploy-form">
      <ProblemNotice problem={problem} />
      {!fixedName && (
        <Field label="App name" name="name" required value={name} onChange={(e) => setName(e.target.value)} error={problem?.fields.name} hint="Lowercase letters, digits and dashes; also the start of its address." />
      )}
      <fieldset>
        <legend>Source</legend>
        <label className="check">
          <input type="radio" name="source" value="image" checked={source === 'image'} onChange={() => setSource('image')} />
          A prebuilt image
        </label>
        <label className="check">
          <input type="radio" name="source" value="repo" checked={source === 'repo'} onChange={() => setSource('repo')} />
          Build from a Git repository
        </label>
      </fieldset>
      {source === 'image' ? (
        <Field label="Image" name="image" required value={image} onChange={(e) => setImage(e.target.value)} error={problem?.fields.image} hint="For example nginx:1.27 or an image id." spellCheck={false} />
      ) : (
        <>
          <Field label="Repository URL" name="repo" type="url" required value={repo} onChange={(e) => setRepo(e.target.value)} error={problem?.fields.repo} hint="http(s), without credentials in it; for example https://github.com/acme/api." spellCheck={false} />
          <div className="row">
            <Field label="Branch" name="branch" value={branch} onChange={(e) => setBranch(e.target.value)} error={problem?.fields.branch} hint="Empty: the repository’s default branch." spellCheck={false} />
            <Field
              label="Access token"
              name="repoToken"
              type="password"
              autoComplete="off"
              value={repoToken}
              onChange={(e) => setRepoToken(e.target.value)}
              error={problem?.fields.repoToken}
              hint={defaults.repo?.hasToken ? 'A token is stored (never shown). Leave empty to keep it.' : 'For a private repository; stored encrypted, never shown again.'}
            />
          </div>
          <div className="row">
            <Field label="Dockerfile" name="dockerfile" value={dockerfile} onChange={(e) => setDockerfile(e.target.value)} error={problem?.fields.dockerfile} hint="Path in the repository; empty: Dockerfile." spellCheck={false} />
            <Field label="Build context" name="context" value={buildContext} onChange={(e) => setBuildContext(e.target.value)} error={problem?.fields.context} hint="Folder in the repository; empty: its root." spellCheck={false} />
          </div>
        </>
      )}
      <div className="row">
        <Field label="Port" name="port" inputMode="numeric" value={port} onChange={(e) => setPort(e.target.value)} error={problem?.fields.port} hint="The port the app listens on." />
        <Field label="Replicas" name="replicas" inputMode="numeric" value={replicas} onChange={(e) => setReplicas(e.target.value)} error={problem?.fields.replicas} />
      </div>
      <EnvEditor rows={env} onChange={setEnv} error={problem?.fields.env} />
      <SecretChoice
        legend="Secrets as environment"
        loading={secrets.loading && !secrets.data}
        secrets={orgSecrets}
        chosen={envFrom}
        onChange={setEnvFrom}
        describe={(s) => <>{s.name} <span className="muted">({s.keys.join(', ')})</span></>}
        error={problem?.fields.envFrom}
      />
      <SecretChoice
        legend="Secrets as files"
        hint="Each key of a chosen secret is mounted at /run/secrets/KEY."
        loading={secrets.loading && !secrets.data}
        secrets={orgSecrets}
        chosen={secretFiles}
        onChange={setSecretFiles}
        describe={(s) => <>Files of {s.name} <span className="muted">({s.keys.map((k) => `/run/secrets/${k}`).join(', ')})</span></>}
        error={problem?.fields.secretFiles}
      />
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Deploying…' : 'Deploy'}
      </button>
    </form>
  );
}

/** Org secrets as labelled checkboxes: which ones a deploy references (as env or as files). */
function SecretChoice(p: {
  legend: string;
  hint?: string;
  loading: boolean;
  secrets: { name: string; keys: string[] }[];
  chosen: string[];
  onChange(next: string[]): void;
  describe(s: { name: string; keys: string[] }): ReactNode;
  error: string | undefined;
}) {
  return (
    <fieldset>
      <legend>{p.legend}</legend>
      {p.hint && <p className="hint">{p.hint}</p>}
      {p.loading ? (
        <p className="muted">Loading secrets…</p>
      ) : p.secrets.length === 0 ? (
        <p className="muted">No org-wide secrets yet.</p>
      ) : (
        p.secrets.map((s) => (
          <label key={s.name} className="check">
            <input type="checkbox" checked={p.chosen.includes(s.name)} onChange={(e) => p.onChange(e.target.checked ? [...p.chosen, s.name] : p.chosen.filter((n) => n !== s.name))} />
            {p.describe(s)}
          </label>
        ))
      )}
      {p.error && <p className="field-error">{p.error}</p>}
    </fieldset>
  );
}
