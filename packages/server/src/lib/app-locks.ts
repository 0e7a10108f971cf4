// One piece of work per app at a time: a job, a repair by the reconciler, a delete. Whatever changes an app's
// containers holds its lock, so two of them can never race on the same app.
export class AppLocks {
  private readonly held = new Map<string, Promise<void>>();

  busy(appId: string): boolean {
    return this.held.has(appId);
  }

  /** Runs `fn` once nothing else holds the app. */
  async run<T>(appId: string, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      const current = this.held.get(appId);
      if (!current) break;
      await current.catch(() => {});
    }
    return this.hold(appId, fn);
  }

  /** Runs `fn` only when the app is free at once; undefined when it was busy. */
  async tryRun<T>(appId: string, fn: () => Promise<T>): Promise<T | undefined> {
    if (this.held.has(appId)) return undefined;
    return this.hold(appId, fn);
  }

  private async hold<T>(appId: string, fn: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const p = new Promise<void>((r) => (release = r));
    this.held.set(appId, p);
    try {
      return await fn();
    } finally {
      this.held.delete(appId);
      release();
    }
  }
}
