import { useEffect } from 'react';
import { AppPage } from './pages/app-page.js';
import { AppsPage } from './pages/apps-page.js';
import { AuditPage } from './pages/audit-page.js';
import { AuthPage } from './pages/auth-page.js';
import { NewAppPage } from './pages/new-app-page.js';
import { OperatorPage } from './pages/operator-page.js';
import { OrgSwitcher } from './pages/org-switcher.js';
import { SecretsPage } from './pages/secrets-page.js';
import { TeamPage } from './pages/team-page.js';
import { TokensPage } from './pages/tokens-page.js';
import { Link, navigate, usePath } from './router.js';
import { SessionProvider, useSession } from './session.js';

export function App() {
  return (
    <SessionProvider>
      <Shell />
    </SessionProvider>
  );
}

function Shell() {
  const path = usePath();
  const { me, signOut } = useSession();
  const title = pageTitle(path, !!me);
  useEffect(() => {
    document.title = `${title} · Cynchro`;
  }, [title]);

  if (!me) {
    return (
      <main id="main" className="auth">
        <AuthPage mode={path === '/signup' ? 'signup' : 'signin'} />
      </main>
    );
  }
  const appMatch = /^\/apps\/([^/]+)$/.exec(path);
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/" className="brand">
          Cynchro
        </Link>
        <nav aria-label="Main">
          <Link to="/" aria-current={path === '/' || appMatch ? 'page' : undefined}>
            Apps
          </Link>
          {PAGES.map(([to, label]) => (
            <Link key={to} to={to} aria-current={path === to ? 'page' : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <OrgSwitcher />
        <span className="muted who">{me.user.email}</span>
        <button
          type="button"
          onClick={() => {
            void signOut().then(() => navigate('/', { replace: true }));
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {path === '/' || path === '/signin' || path === '/signup' ? (
          <AppsPage />
        ) : path === '/new' ? (
          <NewAppPage />
        ) : path === '/secrets' ? (
          <SecretsPage />
        ) : path === '/team' ? (
          <TeamPage />
        ) : path === '/tokens' ? (
          <TokensPage />
        ) : path === '/audit' ? (
          <AuditPage />
        ) : path === '/operator' ? (
          <OperatorPage />
        ) : appMatch ? (
          <AppPage key={appMatch[1]} appId={decodeURIComponent(appMatch[1]!)} />
        ) : (
          <>
            <h1>Page not found</h1>
            <p>
              <Link to="/">Back to your apps</Link>
            </p>
          </>
        )}
      </main>
    </>
  );
}

/** The pages in the main navigation besides Apps. */
const PAGES: [string, string][] = [
  ['/secrets', 'Secrets'],
  ['/team', 'Team'],
  ['/tokens', 'API tokens'],
  ['/audit', 'Audit log'],
  ['/operator', 'Operator'],
];

function pageTitle(path: string, signedIn: boolean): string {
  if (!signedIn) return path === '/signup' ? 'Sign up' : 'Sign in';
  if (path.startsWith('/apps/')) return 'App';
  if (path === '/new') return 'New app';
  return PAGES.find(([to]) => to === path)?.[1] ?? 'Apps';
}
