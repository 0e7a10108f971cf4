import { useState } from 'react';
import { problemOf, type Problem } from '../error-text.js';
import { navigate } from '../router.js';
import { useSignedIn } from '../session.js';
import { useLoad } from '../use-load.js';

/** Which org the session acts in; switching asks the server for a session in the other org. */
export function OrgSwitcher() {
  const { client, me, refreshMe } = useSignedIn();
  const orgs = useLoad(() => client.orgs.list(), [client, me.orgId]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const change = async (orgId: string) => {
    setBusy(true);
    setProblem(null);
    try {
      await client.auth.switchOrg(orgId);
      await refreshMe();
      navigate('/');
    } catch (e) {
      setProblem(problemOf(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="org-switcher">
      <label htmlFor="org-switcher">Organization</label>
      <select id="org-switcher" value={me.orgId} disabled={busy || !orgs.data} onChange={(e) => void change(e.target.value)}>
        {(orgs.data ?? []).map((o) => (
          <option key={o.id} value={o.id}>
            {o.name} ({o.role})
          </option>
        ))}
        {!orgs.data && <option value={me.orgId}>Loading…</option>}
      </select>
      {(problem ?? orgs.problem) && (
        <span role="alert" className="field-error">
          {(problem ?? orgs.problem)!.message}
        </span>
      )}
    </div>
  );
}
