// Loads data for a page: loading, error and data states, a reload, and an optional refresh interval (app status and
// deployments change on the server by themselves).
import { useCallback, useEffect, useRef, useState } from 'react';
import { isSignedOut, problemOf, type Problem } from './error-text.js';
import { useSession } from './session.js';

export interface Loaded<T> {
  data: T | undefined;
  problem: Problem | null;
  loading: boolean;
  reload(): Promise<void>;
}

export function useLoad<T>(fn: () => Promise<T>, deps: unknown[], opts: { everyMs?: number } = {}): Loaded<T> {
  const { signOut } = useSession();
  const [data, setData] = useState<T>();
  const [problem, setProblem] = useState<Problem | null>(null);
  const [loading, setLoading] = useState(true);
  const live = useRef(0);
  // `fn` is a new closure on every render: `deps` say when it really changes.
  const load = useCallback(fn, deps);
  const reload = useCallback(async () => {
    const run = ++live.current;
    try {
      const d = await load();
      if (run !== live.current) return;
      setData(d);
      setProblem(null);
    } catch (e) {
      if (run !== live.current) return;
      if (isSignedOut(e)) return void signOut();
      setProblem(problemOf(e));
    } finally {
      if (run === live.current) setLoading(false);
    }
  }, [load, signOut]);
  useEffect(() => {
    setLoading(true);
    setData(undefined);
    void reload();
    if (!opts.everyMs) return () => void ++live.current;
    const t = setInterval(() => void reload(), opts.everyMs);
    return () => {
      ++live.current;
      clearInterval(t);
    };
  }, [reload, opts.everyMs]);
  return { data, problem, loading, reload };
}
