import { Link } from '../router.js';
import { useSignedIn } from '../session.js';
import { Loading, ProblemNotice, Status } from '../ui.js';
import { useLoad } from '../use-load.js';

export function AppsPage() {
  const { client, me } = useSignedIn();
  const apps = useLoad(() => client.apps.list(), [client, me.orgId], { everyMs: 5000 });
  return (
    <>
      <div className="page-head">
        <h1>Apps</h1>
        <Link to="/new" className="button primary">
          Deploy an app
        </Link>
      </div>
      <ProblemNotice problem={apps.problem} />
      {apps.loading && !apps.data ? (
        <Loading what="apps" />
      ) : apps.data && apps.data.length === 0 ? (
        <div className="card empty">
          <p>No apps in this organization yet.</p>
          <p>
            <Link to="/new">Deploy your first app</Link> from a container image.
          </p>
        </div>
      ) : apps.data ? (
        <table className="list">
          <caption className="sr-only">Apps in this organization</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">URL</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {apps.data.map((a) => (
              <tr key={a.id}>
                <td>
                  <Link to={`/apps/${encodeURIComponent(a.id)}`}>{a.name}</Link>
                </td>
                <td>
                  <Status value={a.status} />
                  {a.statusReason && <span className="muted reason"> {a.statusReason}</span>}
                </td>
                <td>
                  <a href={a.url} rel="noreferrer noopener" target="_blank">
                    {a.url}
                  </a>
                </td>
                <td>{new Date(a.updatedAt).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
