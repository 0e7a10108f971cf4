// Deploys an image: for a new app (name editable) or a new version of one (name fixed). Deploy sets the app's
// image, port, replicas and environment to what the form holds.
import { useState, type FormEvent } from 'react';
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
}

export function DeployForm({ fixedName, defaults = {}, onDeployed }: { fixedName?: string; defaults?: DeployDefaults; onDeployed(appId: string, deploymentId: string): void }) {
  const { client, signOut } = useSignedIn();
  const secrets = useLoad(() => client.secrets.list(), [client]);
  const [name, setName] = useState(fixedName ?? defaults.name ?? '');
  const [image, setImage] = useState(defaults.image ?? '');
  const [port, setPort] = useState(defaults.port ? String(defaults.port) : '');
  const [replicas, setReplicas] = useState(String(defaults.replicas ?? 1));
  const [env, setEnv] = useState<EnvRow[]>((defaults.envKeys ?? []).map((key) => ({ key, value: '' })));
  const [envFrom, setEnvFrom] = useState<string[]>(defaults.envFrom ?? []);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const local: Record<string, string> = {};
    if (!name.trim()) local.name = 'Give the app a name.';
    if (!image.trim()) local.image = 'Name the image to run.';
    if (port && !/^\d+$/.test(port)) local.port = 'A port is a number from 1 to 65535.';
    if (!/^\d+$/.test(replicas)) local.replicas = 'A whole number from 1 to 20.';
    if (Object.keys(local).length) return setProblem({ message: 'Some fields need attention.', fields: local });
    setBusy(true);
    setProblem(null);
    try {
      const envMap = envFromRows(env);
      const handle = await client.deploy({
        name: name.trim(),
        image: image.trim(),
        ...(port ? { port: Number(port) } : {}),
        replicas: Number(replicas),
        ...(Object.keys(envMap).length ? { env: envMap } : {}),
        ...(envFrom.length ? { envFrom } : {}),
      });
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
      <Field label="Image" name="image" required value={image} onChange={(e) => setImage(e.target.value)} error={problem?.fields.image} hint="For example nginx:1.27 or an image id." spellCheck={false} />
      <div className="row">
        <Field label="Port" name="port" inputMode="numeric" value={port} onChange={(e) => setPort(e.target.value)} error={problem?.fields.port} hint="The port the app listens on." />
        <Field label="Replicas" name="replicas" inputMode="numeric" value={replicas} onChange={(e) => setReplicas(e.target.value)} error={problem?.fields.replicas} />
      </div>
      <EnvEditor rows={env} onChange={setEnv} error={problem?.fields.env} />
      <fieldset>
        <legend>Secrets as environment</legend>
        {secrets.loading && !secrets.data ? (
          <p className="muted">Loading secrets…</p>
        ) : orgSecrets.length === 0 ? (
          <p className="muted">No org-wide secrets yet.</p>
        ) : (
          orgSecrets.map((s) => (
            <label key={s.name} className="check">
              <input type="checkbox" checked={envFrom.includes(s.name)} onChange={(e) => setEnvFrom(e.target.checked ? [...envFrom, s.name] : envFrom.filter((n) => n !== s.name))} />
              {s.name} <span className="muted">({s.keys.join(', ')})</span>
            </label>
          ))
        )}
        {problem?.fields.envFrom && <p className="field-error">{problem.fields.envFrom}</p>}
      </fieldset>
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Deploying…' : 'Deploy'}
      </button>
    </form>
  );
}
