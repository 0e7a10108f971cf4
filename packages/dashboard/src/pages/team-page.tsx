// Members of the org and invitations. The invitation code is shown once: the invited person signs up (or, with an
// account, accepts) with it.
import { useId, useState, type FormEvent } from 'react';
import type { CreatedInvitation, OrgRole } from '@cynchro/sdk';
import { isSignedOut, problemOf, type Problem } from '../error-text.js';
import { CopyButton } from '../copy-button.js';
import { useSignedIn } from '../session.js';
import { Field, Loading, ProblemNotice, Section } from '../ui.js';
import { useLoad } from '../use-load.js';

const ROLES: OrgRole[] = ['viewer', 'developer', 'admin', 'owner'];

export function TeamPage() {
  const { client, me } = useSignedIn();
  const members = useLoad(() => client.orgs.members(me.orgId), [client, me.orgId]);
  const manage = me.role === 'owner' || me.role === 'admin';
  const invitations = useLoad(() => (manage ? client.orgs.invitations(me.orgId) : Promise.resolve([])), [client, me.orgId, manage]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const act = (fn: () => Promise<unknown>, after: () => Promise<void>) => {
    setProblem(null);
    fn().then(after, (e: unknown) => setProblem(problemOf(e)));
  };
  return (
    <>
      <h1>Team</h1>
      <ProblemNotice problem={problem ?? members.problem} />
      <Section title="Members">
        {members.loading && !members.data ? (
          <Loading what="members" />
        ) : members.data ? (
          <table className="list">
            <caption className="sr-only">Members</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Joined</th>
                {manage && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {members.data.map((m) => (
                <tr key={m.userId}>
                  <td>{m.email}</td>
                  <td>
                    {manage && m.userId !== me.user.id ? (
                      <>
                        <label htmlFor={`role-${m.userId}`} className="sr-only">
                          Role of {m.email}
                        </label>
                        <select id={`role-${m.userId}`} value={m.role} onChange={(e) => act(() => client.orgs.setRole(me.orgId, m.userId, e.target.value as OrgRole), members.reload)}>
                          {ROLES.map((r) => (
                            <option key={r}>{r}</option>
                          ))}
                        </select>
                      </>
                    ) : (
                      m.role
                    )}
                  </td>
                  <td>{new Date(m.joinedAt).toLocaleDateString()}</td>
                  {manage && (
                    <td>
                      {m.userId !== me.user.id && (
                        <button type="button" onClick={() => act(() => client.orgs.removeMember(me.orgId, m.userId), members.reload)}>
                          Remove {m.email}
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Section>
      {manage && (
        <Section title="Invitations">
          <InviteForm onInvited={() => void invitations.reload()} />
          {invitations.data && invitations.data.length > 0 ? (
            <table className="list">
              <caption className="sr-only">Pending invitations</caption>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {invitations.data.map((i) => (
                  <tr key={i.id}>
                    <td>{i.email}</td>
                    <td>{i.role}</td>
                    <td>{new Date(i.expiresAt).toLocaleDateString()}</td>
                    <td>
                      <button type="button" onClick={() => act(() => client.orgs.revokeInvitation(me.orgId, i.id), invitations.reload)}>
                        Revoke invitation of {i.email}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="muted">No pending invitations.</p>
          )}
        </Section>
      )}
    </>
  );
}

function InviteForm({ onInvited }: { onInvited(): void }) {
  const { client, me, signOut } = useSignedIn();
  const id = useId();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<OrgRole>('developer');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [created, setCreated] = useState<CreatedInvitation | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    setCreated(null);
    try {
      setCreated(await client.orgs.invite(me.orgId, { email, role }));
      setEmail('');
      onInvited();
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
      <div className="row">
        <Field label="Email to invite" type="email" value={email} onChange={(e) => setEmail(e.target.value)} error={problem?.fields.email} />
        <div className="field">
          <label htmlFor={`${id}-role`}>Role</label>
          <select id={`${id}-role`} value={role} onChange={(e) => setRole(e.target.value as OrgRole)}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </div>
      </div>
      <button type="submit" className="primary" disabled={busy}>
        Invite
      </button>
      {created && (
        <div className="notice shown-once" role="status">
          <p>
            Invitation for {created.invitation.email} created. Send them this code; it is shown only now. They enter it when they sign up (under “Invitation code”).
          </p>
          Code:{' '}
          <code className="secret">
            {created.token}
          </code>{' '}
          <CopyButton value={created.token} label="Copy invitation code" />
        </div>
      )}
    </form>
  );
}
