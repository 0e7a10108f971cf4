// The org's audit log, newest first, a page at a time (owners and admins; others see why not).
import { useState } from 'react';
import type { AuditEvent } from '@cynchro/sdk';
import { problemOf, type Problem } from '../error-text.js';
import { useSignedIn } from '../session.js';
import { Loading, ProblemNotice } from '../ui.js';
import { useLoad } from '../use-load.js';

export function AuditPage() {
  const { client, me } = useSignedIn();
  const first = useLoad(() => client.audit.list({ limit: 50 }), [client, me.orgId]);
  const [more, setMore] = useState<AuditEvent[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [problem, setProblem] = useState<Problem | null>(null);
  const next = cursor === undefined ? first.data?.nextCursor : cursor;
  const events = [...(first.data?.events ?? []), ...more];
  const loadMore = () => {
    if (!next) return;
    client.audit.list({ limit: 50, before: next }).then(
      (p) => {
        setMore((m) => [...m, ...p.events]);
        setCursor(p.nextCursor);
      },
      (e: unknown) => setProblem(problemOf(e)),
    );
  };
  return (
    <>
      <h1>Audit log</h1>
      <ProblemNotice problem={problem ?? first.problem} />
      {first.loading && !first.data ? (
        <Loading what="the audit log" />
      ) : first.data && events.length === 0 ? (
        <p className="muted">Nothing recorded yet.</p>
      ) : first.data ? (
        <>
          <table className="list">
            <caption className="sr-only">Audit events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id}>
                  <td>{new Date(e.at).toLocaleString()}</td>
                  <td>{e.actor.email ?? (e.actor.tokenId ? `token ${e.actor.tokenId}` : 'system')}</td>
                  <td>{e.action}</td>
                  <td>{e.target.name ?? e.target.id ?? ''}</td>
                  <td>
                    {e.outcome}
                    {e.detail ? ` (${e.detail})` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {next && (
            <button type="button" onClick={loadMore}>
              Older events
            </button>
          )}
        </>
      ) : null}
    </>
  );
}
