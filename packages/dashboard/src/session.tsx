// The one SDK client of the page and who is signed in.
//
// Token storage: the SDK's default MemoryTokenStore keeps the access and refresh tokens in a private class field of
// an object that lives only in this module's closure. Nothing is written to localStorage, sessionStorage, cookies or
// any global, so script injected into the page (which the CSP's script-src 'self' already refuses to run inline)
// has no place to read the refresh token from. The price: a reload or a new tab signs you out. (An httpOnly refresh
// cookie would survive reloads, but needs the server's auth to change.)
import { createClient, type CynchroClient, type Me } from '@cynchro/sdk';
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';

interface SessionValue {
  client: CynchroClient;
  me: Me | null;
  /** After sign in, sign up or an org switch: reads who we are now. */
  refreshMe(): Promise<Me>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const client = useMemo(() => createClient({ url: location.origin }), []);
  const [me, setMe] = useState<Me | null>(null);
  const refreshMe = useCallback(async () => {
    const m = await client.auth.me();
    setMe(m);
    return m;
  }, [client]);
  const signOut = useCallback(async () => {
    await client.auth.logout().catch(() => client.session.set(null));
    setMe(null);
  }, [client]);
  const value = useMemo(() => ({ client, me, refreshMe, signOut }), [client, me, refreshMe, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
}

/** Signed in: `me` is known. */
export function useSignedIn(): SessionValue & { me: Me } {
  const s = useSession();
  if (!s.me) throw new Error('not signed in');
  return s as SessionValue & { me: Me };
}
