// What every command shares: the terminal (Io), output (--json or human), and who the CLI acts as. Two ways:
// CYNCHRO_TOKEN (an API token, for CI and scripts: used as is, the credentials file is never read nor written), or
// the session `cynchro login` stored in $XDG_CONFIG_HOME/cynchro/credentials.json (refreshed tokens written back).
import { createClient, CynchroError, type CynchroClient, type Org } from '@cynchro/sdk';
import { defaultCredentialsPath, FileTokenStore, readCredentialsFile, writeCredentialsFile } from '@cynchro/sdk/node';
import { UsageError } from './usage-error.js';

export interface Io {
  out(s: string): void;
  err(s: string): void;
  env: Record<string, string | undefined>;
  /** Aborted on SIGINT/SIGTERM (logs -f, deploy --wait). */
  signal: AbortSignal;
}

export class CliContext {
  readonly credentialsPath: string;
  constructor(readonly io: Io) {
    this.credentialsPath = defaultCredentialsPath(io.env);
  }

  /** CYNCHRO_TOKEN, when set (an empty value counts as unset). */
  get apiToken(): string | undefined {
    return this.io.env.CYNCHRO_TOKEN?.trim() || undefined;
  }

  /** Commands that keep a session on disk (login, register, logout, orgs switch) make no sense with an API token. */
  refuseWithApiToken(what: string): void {
    if (this.apiToken) {
      throw new UsageError(`${what} needs a user session, and CYNCHRO_TOKEN is set: the CLI acts with that API token and keeps no session (unset CYNCHRO_TOKEN to use one)`);
    }
  }

  /** A secret given as an argument is visible to every user (ps) and kept in shell history: say so. */
  warnArgv(what: string, instead: string): void {
    this.io.err(`warning: ${what} on the command line is visible to other users of this machine and kept in shell history; use ${instead} instead\n`);
  }

  print(json: boolean, value: unknown, human: () => string): void {
    if (json) this.io.out(JSON.stringify(value, null, 2) + '\n');
    else {
      const s = human();
      if (s) this.io.out(s.endsWith('\n') ? s : s + '\n');
    }
  }

  /** --url, else CYNCHRO_URL, else (with a stored session only) the URL saved at login. */
  urlFrom(flag: string | undefined): string | undefined {
    if (this.apiToken) return flag || this.io.env.CYNCHRO_URL || undefined;
    return flag || this.io.env.CYNCHRO_URL || readCredentialsFile(this.credentialsPath)?.url;
  }

  /** A client acting with CYNCHRO_TOKEN, or on the stored session (refreshed tokens are written back to the file). */
  client(urlFlag: string | undefined): CynchroClient {
    const url = this.urlFrom(urlFlag);
    const apiToken = this.apiToken;
    if (apiToken) {
      if (!url) throw new UsageError('CYNCHRO_TOKEN is set but no API URL: set CYNCHRO_URL or give --url');
      return createClient({ url, apiToken });
    }
    const store = new FileTokenStore(this.credentialsPath);
    if (!url || !store.load()) throw new CynchroError('not_logged_in', 'Not logged in: run `cynchro login` first (or set CYNCHRO_TOKEN and CYNCHRO_URL)', 0);
    return createClient({ url, store });
  }

  /** Keeps the org the stored session acts in, beside its tokens (login, register, orgs switch). */
  rememberOrg(orgId: string): void {
    const file = readCredentialsFile(this.credentialsPath);
    if (file) writeCredentialsFile(this.credentialsPath, { ...file, orgId });
  }

  /** The email of the stored session (none with an API token). */
  sessionEmail(): string | undefined {
    if (this.apiToken) return undefined;
    const email = readCredentialsFile(this.credentialsPath)?.email;
    return typeof email === 'string' ? email : undefined;
  }

  /** The org the session acts in: as remembered at login/switch, else as the server says (sessions from older CLIs). */
  async sessionOrgId(c: CynchroClient): Promise<string> {
    if (!this.apiToken) {
      const saved = readCredentialsFile(this.credentialsPath)?.orgId;
      if (typeof saved === 'string' && saved) return saved;
    }
    return (await c.auth.me()).orgId;
  }

  /** --org (an org id or name), else the session's org. */
  async actingOrgId(c: CynchroClient, orgFlag: string | undefined): Promise<string> {
    return orgFlag ? (await findOrg(c, orgFlag)).id : this.sessionOrgId(c);
  }
}

/** One of your orgs by id or by name; `org_not_found` when neither matches (a name two orgs share: use the id). */
export async function findOrg(c: CynchroClient, idOrName: string): Promise<Org> {
  const orgs = await c.orgs.list();
  const byId = orgs.find((o) => o.id === idOrName);
  if (byId) return byId;
  const byName = orgs.filter((o) => o.name === idOrName);
  if (byName.length > 1) throw new CynchroError('conflict', `${byName.length} of your orgs are named "${idOrName}": give its id (cynchro orgs ls)`, 409);
  if (!byName[0]) throw new CynchroError('org_not_found', `None of your orgs is named or has the id "${idOrName}"`, 404);
  return byName[0];
}
