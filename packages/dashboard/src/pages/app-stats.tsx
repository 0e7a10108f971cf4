// CPU and memory of each running replica of the current release, read every 5 s (the server caches the engine's
// answer for 2 s per app).
import { useSignedIn } from '../session.js';
import { Loading, ProblemNotice } from '../ui.js';
import { useLoad } from '../use-load.js';

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

export function AppStats({ appId }: { appId: string }) {
  const { client } = useSignedIn();
  const stats = useLoad(() => client.apps.stats(appId), [client, appId], { everyMs: 5000 });
  if (stats.loading && !stats.data) return <Loading what="stats" />;
  const rows = (stats.data?.services ?? []).flatMap((s) => s.replicas.map((r, i) => ({ service: s.name, n: i + 1, ...r })));
  return (
    <>
      <ProblemNotice problem={stats.problem} />
      {stats.data && rows.length === 0 ? (
        <p className="muted">No replica is running.</p>
      ) : rows.length > 0 ? (
        <table className="list">
          <caption className="sr-only">Running replicas</caption>
          <thead>
            <tr>
              <th scope="col">Replica</th>
              <th scope="col">CPU</th>
              <th scope="col">Memory</th>
              <th scope="col">Restarts</th>
              <th scope="col">Started</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.containerId}>
                <td>
                  {r.service}/{r.n}
                </td>
                <td>{r.cpuPercent.toFixed(1)} %</td>
                <td>
                  {mb(r.memoryBytes)}
                  {r.memoryLimitBytes ? ` of ${mb(r.memoryLimitBytes)}` : ''}
                </td>
                <td>{r.restarts}</td>
                <td>{r.startedAt ? new Date(r.startedAt).toLocaleString() : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
