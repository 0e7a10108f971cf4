import { useState, type FormEvent } from 'react';
import { problemOf, type Problem } from '../error-text.js';
import { BASE, Link, navigate } from '../router.js';
import { useSession } from '../session.js';
import { Field, ProblemNotice } from '../ui.js';

export function AuthPage({ mode }: { mode: 'signin' | 'signup' }) {
  const { client, refreshMe } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [invitation, setInvitation] = useState(() => new URLSearchParams(location.search).get('invitation') ?? '');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const signup = mode === 'signup';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      if (signup) await client.auth.register({ email, password, ...(invitation.trim() ? { invitation: invitation.trim() } : {}) });
      else await client.auth.login({ email, password });
      await refreshMe();
      // A link to a page of the dashboard opened while signed out leads there once signed in.
      const here = location.pathname.slice(BASE.length) || '/';
      navigate(here === '/signin' || here === '/signup' ? '/' : here, { replace: true });
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="card narrow">
      <h1>{signup ? 'Create your account' : 'Sign in to Cynchro'}</h1>
      <form onSubmit={submit} noValidate>
        <ProblemNotice problem={problem} />
        <Field label="Email" type="email" name="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} error={problem?.fields.email} />
        <Field
          label="Password"
          type="password"
          name="password"
          autoComplete={signup ? 'new-password' : 'current-password'}
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={problem?.fields.password}
          {...(signup ? { hint: 'At least 8 characters.' } : {})}
        />
        {signup && (
          <Field
            label="Invitation code (optional)"
            name="invitation"
            autoComplete="off"
            spellCheck={false}
            value={invitation}
            onChange={(e) => setInvitation(e.target.value)}
            error={problem?.fields.invitation}
            hint="From the person who invited you: you join their organization."
          />
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Please wait…' : signup ? 'Sign up' : 'Sign in'}
        </button>
      </form>
      <p>
        {signup ? (
          <>
            Have an account? <Link to="/signin">Sign in</Link>
          </>
        ) : (
          <>
            New here? <Link to="/signup">Create an account</Link>
          </>
        )}
      </p>
    </div>
  );
}
