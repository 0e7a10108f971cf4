// `cynchro`: the API from a terminal, on @cynchro/sdk. Human output by default, `--json` for scripts.
// Exit codes: 0 ok, 1 an API error (its code and message are printed), 2 a usage error.
import fs from 'node:fs';
import { createClient, CynchroError, type DeployInput } from '@cynchro/sdk';
import { readCredentialsFile, writeCredentialsFile } from '@cynchro/sdk/node';
import { deploymentsCommand, rollbackCommand } from './releases-command.js';
import { adminNodesCommand } from './admin-nodes-command.js';
import { auditCommand, auditQueryFrom, formatAuditPage } from './audit-command.js';
import { CliContext, type Io } from './cli-context.js';
import { composeDeployInput } from './compose-option.js';
import { formatAppDetail, formatSecrets, table } from './format.js';
import { HELP } from './help.js';
import { invitationsCommand } from './invitations-command.js';
import { membersCommand } from './members-command.js';
import { orgsCommand } from './orgs-command.js';
import { int, list, need, pairs, parseCommand as parse } from './parse-command.js';
import { closePrompts, prompt, readLine } from './prompt.js';
import { statsCommand } from './stats-command.js';
import { tokensCommand } from './tokens-command.js';
import { UsageError } from './usage-error.js';

export { UsageError } from './usage-error.js';
export type { Io } from './cli-context.js';

class Cli extends CliContext {
  async login(args: string[], register: boolean): Promise<number> {
    const { values: v } = parse(args, { email: { type: 'string' }, password: { type: 'string' }, 'password-stdin': { type: 'boolean' }, name: { type: 'string' } });
    this.refuseWithApiToken(register ? 'register' : 'login');
    if (v.name && !register) throw new UsageError('--name is for register only');
    if (v.password !== undefined && v['password-stdin']) throw new UsageError('give --password-stdin or --password, not both');
    if (v['password-stdin'] && !(v.email || this.io.env.CYNCHRO_EMAIL)) throw new UsageError('--password-stdin needs --email (or CYNCHRO_EMAIL): stdin holds the password');
    if (v.password !== undefined) this.warnArgv('--password', '--password-stdin or CYNCHRO_PASSWORD');
    const passwordFromStdin = v['password-stdin'] ? await readLine() : undefined;
    if (v['password-stdin'] && !passwordFromStdin) throw new UsageError('--password-stdin: no password on standard input');
    const url = v.url || this.io.env.CYNCHRO_URL || readCredentialsFile(this.credentialsPath)?.url || (await prompt('API URL', { default: 'http://localhost:3000' }));
    const email = v.email || this.io.env.CYNCHRO_EMAIL || (await prompt('Email'));
    const password = passwordFromStdin || v.password || this.io.env.CYNCHRO_PASSWORD || (await prompt('Password', { secret: true }));
    if (!url || !email || !password) throw new UsageError('login needs --url, --email and --password (or answers at the prompts)');
    const c = createClient({ url });
    const r = register ? await c.auth.register({ email, password, ...(v.name ? { name: v.name } : {}) }) : await c.auth.login({ email, password });
    writeCredentialsFile(this.credentialsPath, { url: url.replace(/\/+$/, ''), email: r.user.email, orgId: r.orgId, accessToken: r.accessToken, refreshToken: r.refreshToken });
    this.print(!!v.json, { user: r.user, orgId: r.orgId, url, credentials: this.credentialsPath }, () =>
      `${register ? 'Registered and logged in' : 'Logged in'} as ${r.user.email} at ${url}\nSession saved to ${this.credentialsPath}`);
    return 0;
  }

  async logout(args: string[]): Promise<number> {
    const { values } = parse(args, {});
    this.refuseWithApiToken('logout');
    const file = readCredentialsFile(this.credentialsPath);
    if (file?.url && file.accessToken) {
      // Revoke on the server when we can; forgetting locally must happen even when the server says no.
      await this.client(values.url).auth.logout().catch(() => {});
    }
    const rest = { ...(file ?? {}) };
    delete rest.accessToken;
    delete rest.refreshToken;
    delete rest.orgId;
    if (file) writeCredentialsFile(this.credentialsPath, rest);
    this.print(!!values.json, { loggedOut: true }, () => 'Logged out');
    return 0;
  }

  async whoami(args: string[]): Promise<number> {
    const { values } = parse(args, {});
    const me = await this.client(values.url).auth.me();
    this.print(!!values.json, me, () => `${me.user.email} (org ${me.orgId}, ${me.role})`);
    return 0;
  }

  async deploy(args: string[]): Promise<number> {
    const { values, positionals } = parse(args, {
      image: { type: 'string' },
      repo: { type: 'string' },
      port: { type: 'string', short: 'p' },
      domain: { type: 'string' },
      env: { type: 'string', short: 'e', multiple: true },
      'env-from': { type: 'string', multiple: true },
      'secret-file': { type: 'string', multiple: true },
      cpu: { type: 'string' },
      memory: { type: 'string' },
      replicas: { type: 'string' },
      branch: { type: 'string' },
      dockerfile: { type: 'string' },
      context: { type: 'string' },
      'repo-token': { type: 'string' },
      'repo-token-stdin': { type: 'boolean' },
      wait: { type: 'boolean', short: 'w' },
      timeout: { type: 'string' },
      compose: { type: 'string' },
    });
    if (positionals.length !== 1) throw new UsageError('deploy takes exactly one app name: cynchro deploy <name> --image REF | --repo URL | --compose FILE');
    if (!values.compose && !values.image === !values.repo) throw new UsageError('deploy needs exactly one of --image, --repo or --compose');
    const input: DeployInput = values.compose ? composeDeployInput(positionals[0]!, values.compose, values, this.io.env) : { name: positionals[0]! };
    if (values.image) input.image = values.image;
    if (values.repo) input.repo = values.repo;
    const port = int(values.port, '--port');
    if (port !== undefined) input.port = port;
    if (values.domain) input.domain = values.domain;
    if (values.env?.length) input.env = pairs(values.env, '--env');
    const envFrom = list(values['env-from']);
    if (envFrom.length) input.envFrom = envFrom;
    const secretFiles = list(values['secret-file']);
    if (secretFiles.length) input.secretFiles = secretFiles;
    const cpu = int(values.cpu, '--cpu');
    if (cpu !== undefined) input.cpu = cpu;
    const memory = int(values.memory, '--memory');
    if (memory !== undefined) input.memory = memory;
    const replicas = int(values.replicas, '--replicas');
    if (replicas !== undefined) input.replicas = replicas;
    if (values.branch) input.branch = values.branch;
    if (values.dockerfile) input.dockerfile = values.dockerfile;
    if (values.context) input.context = values.context;
    if (values['repo-token'] !== undefined && values['repo-token-stdin']) throw new UsageError('give --repo-token-stdin or --repo-token, not both');
    if (values['repo-token'] !== undefined) this.warnArgv('--repo-token', '--repo-token-stdin or CYNCHRO_REPO_TOKEN');
    if (values['repo-token-stdin'] && !input.repo) throw new UsageError('--repo-token-stdin is for --repo deploys');
    const repoToken = values['repo-token-stdin'] ? await readLine() : values['repo-token'] || (input.repo ? this.io.env.CYNCHRO_REPO_TOKEN : undefined);
    if (values['repo-token-stdin'] && !repoToken) throw new UsageError('--repo-token-stdin: no token on standard input');
    if (repoToken) input.repoToken = repoToken;
    const timeout = int(values.timeout, '--timeout');

    const c = this.client(values.url);
    const h = await c.deploy(input);
    const json = !!values.json;
    const summary = { appId: h.appId, deploymentId: h.deploymentId, domain: h.domain, url: h.url, status: h.status, ...(h.webhook ? { webhook: h.webhook } : {}) };
    if (!values.wait) {
      this.print(json, summary, () => deployText(input.name, summary));
      return 0;
    }
    if (!json) this.io.out(deployText(input.name, summary) + '\n');
    // Progress goes to stdout for people, to stderr with --json so stdout stays one JSON document.
    const progress = (s: string) => (json ? this.io.err(s + '\n') : this.io.out(s + '\n'));
    const deployment = await h.wait({
      signal: this.io.signal,
      ...(timeout !== undefined ? { timeoutMs: timeout * 1000 } : {}),
      onLog: (l) => progress(`  ${l.stream === 'system' ? '' : `[${l.stream}] `}${l.text}`),
    });
    this.print(json, { ...summary, status: deployment.status, deployment }, () => `Deployment ${deployment.id} succeeded: ${h.url}`);
    return 0;
  }

  async apps(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    const { values, positionals } = parse(rest, {});
    const json = !!values.json;
    const c = this.client(values.url);
    if (sub === 'ls' || sub === 'list') {
      if (positionals.length) throw new UsageError('apps ls takes no arguments');
      const apps = await c.apps.list();
      this.print(json, { apps }, () => (apps.length ? table(['NAME', 'ID', 'STATUS', 'KIND', 'URL'], apps.map((a) => [a.name, a.id, a.status, a.kind, a.url])) : 'No apps yet'));
      return 0;
    }
    if (!sub || !['get', 'restart', 'stop', 'rm', 'delete', 'rotate-webhook'].includes(sub)) throw new UsageError('usage: cynchro apps ls|get|restart|stop|rm|rotate-webhook <app>');
    if (positionals.length !== 1) throw new UsageError(`apps ${sub} takes one app name or id`);
    const app = await c.apps.find(positionals[0]!);
    if (sub === 'get') {
      const d = await c.apps.get(app.id);
      this.print(json, d, () => formatAppDetail(d));
    } else if (sub === 'restart') {
      const a = await c.apps.restart(app.id);
      this.print(json, { app: a }, () => `Restarted ${a.name}: ${a.status}`);
    } else if (sub === 'stop') {
      const a = await c.apps.stop(app.id);
      this.print(json, { app: a }, () => `Stopped ${a.name}: ${a.status}`);
    } else if (sub === 'rotate-webhook') {
      const w = await c.apps.rotateWebhook(app.id);
      this.print(json, { webhook: w }, () => `New webhook secret for ${app.name}: ${w.secret ?? '(hidden while the vault is sealed)'}\n  url: ${w.url}`);
    } else {
      const r = await c.apps.delete(app.id);
      this.print(json, r, () => `Deleted ${app.name} (${app.id})`);
    }
    return 0;
  }

  async logs(args: string[]): Promise<number> {
    const { values, positionals } = parse(args, { follow: { type: 'boolean', short: 'f' }, tail: { type: 'string', short: 'n' } });
    if (positionals.length !== 1) throw new UsageError('usage: cynchro logs <app> [-f] [--tail N]');
    const tail = int(values.tail, '--tail');
    const c = this.client(values.url);
    const app = await c.apps.find(positionals[0]!);
    const json = !!values.json;
    const line = (l: { service: string; stream: string; timestamp: string; text: string }) =>
      this.io.out(json ? JSON.stringify(l) + '\n' : `${app.services.length > 1 ? `[${l.service}] ` : ''}${l.text}\n`);
    if (!values.follow) {
      const r = await c.apps.logs(app.id, tail !== undefined ? { tail } : {});
      for (const l of r.lines) line(l);
      return 0;
    }
    for await (const l of c.apps.logs.stream(app.id, { tail: tail ?? 20, signal: this.io.signal })) line(l);
    return 0;
  }

  async secrets(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    const { values, positionals } = parse(rest, { app: { type: 'string' } });
    const json = !!values.json;
    const c = this.client(values.url);
    const scope = async () => (values.app ? { appId: (await c.apps.find(values.app)).id } : {});
    if (sub === 'ls' || sub === 'list') {
      const secrets = await c.secrets.list();
      this.print(json, { secrets }, () => formatSecrets(secrets));
      return 0;
    }
    if (sub === 'set') {
      const [name, ...kv] = positionals;
      if (!name || !kv.length) throw new UsageError('usage: cynchro secrets set <name> KEY=VALUE... [--app APP]');
      const s = await c.secrets.set(name, pairs(kv, 'secret data'), await scope());
      this.print(json, s, () => `Saved secret ${s.name} (${s.scope === 'app' ? `app ${s.appId}` : 'org-wide'}): ${s.keys.join(', ')}`);
      return 0;
    }
    if (sub === 'get') {
      const s = await c.secrets.get(need(positionals[0], 'secret name'), await scope());
      this.print(json, s, () => formatSecrets([s]));
      return 0;
    }
    if (sub === 'rm' || sub === 'delete') {
      const name = need(positionals[0], 'secret name');
      await c.secrets.delete(name, await scope());
      this.print(json, { deleted: true, name }, () => `Deleted secret ${name}`);
      return 0;
    }
    throw new UsageError('usage: cynchro secrets set|ls|get|rm …');
  }

  async admin(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === 'nodes') return adminNodesCommand(this, rest);
    const { values, positionals } = parse(rest, { previous: { type: 'string' }, 'token-file': { type: 'string' }, limit: { type: 'string', short: 'n' }, before: { type: 'string' } });
    const json = !!values.json;
    const c = this.client(values.url);
    if (sub === 'claim') {
      if (positionals.length > 1) throw new UsageError('usage: cynchro admin claim [--token-file FILE] (or the token on stdin)');
      if (positionals[0] && values['token-file']) throw new UsageError('give the token or --token-file, not both');
      if (positionals[0]) this.warnArgv('the operator token', '--token-file or stdin');
      let token = positionals[0] || this.io.env.CYNCHRO_OPERATOR_TOKEN;
      if (!token && values['token-file']) {
        try {
          token = fs.readFileSync(values['token-file'], 'utf8');
        } catch (e) {
          throw new UsageError(`cannot read ${values['token-file']}: ${(e as Error).message}`);
        }
      }
      if (!token) token = process.stdin.isTTY ? await prompt('Operator token (cat $DATA_DIR/operator-token on the server)', { secret: true }) : await readLine();
      token = token.trim();
      if (!token) throw new UsageError('no operator token: give --token-file FILE or pipe it in (cat $DATA_DIR/operator-token | cynchro admin claim)');
      const r = await c.admin.claim(token);
      this.print(json, r, () => 'You are an operator now: cynchro admin status / unseal');
    } else if (sub === 'status') {
      const s = await c.admin.status();
      this.print(json, s, () => (s.sealed ? 'sealed' : 'unsealed'));
    } else if (sub === 'unseal') {
      if (positionals[0]) this.warnArgv('the master key', 'CYNCHRO_MASTER_KEY or stdin');
      const key = positionals[0] || this.io.env.CYNCHRO_MASTER_KEY || (await prompt('Master key (64 hex characters)', { secret: true }));
      if (!key) throw new UsageError('usage: cynchro admin unseal <key> [--previous KEY]');
      if (values.previous) this.warnArgv('--previous', 'CYNCHRO_PREVIOUS_MASTER_KEY');
      const previous = values.previous || this.io.env.CYNCHRO_PREVIOUS_MASTER_KEY;
      const r = await c.admin.unseal(key, previous ? { previous } : {});
      this.print(json, r, () => `${r.outcome.replace(/_/g, ' ')}: the vault is ${r.sealed ? 'sealed' : 'unsealed'}`);
    } else if (sub === 'seal') {
      const s = await c.admin.seal();
      this.print(json, s, () => (s.sealed ? 'sealed' : 'unsealed'));
    } else if (sub === 'audit') {
      if (positionals.length) throw new UsageError('usage: cynchro admin audit [--limit N] [--before CURSOR]');
      const query = auditQueryFrom(values);
      const page = await c.admin.audit(query);
      this.print(json, page, () => formatAuditPage(page, `cynchro admin audit${query.limit ? ` --limit ${query.limit}` : ''}`));
    } else throw new UsageError('usage: cynchro admin claim|status|unseal [--previous KEY]|seal|audit|nodes');
    return 0;
  }
}

function deployText(name: string, s: { appId: string; deploymentId: string; url: string; status: string; webhook?: { url: string; secret: string | null } }): string {
  const lines = [`Deploying ${name} → ${s.url}`, `  app ${s.appId}, deployment ${s.deploymentId} (${s.status})`];
  if (s.webhook) {
    lines.push(`  GitHub webhook: ${s.webhook.url}`, `    content type application/json, events: push`);
    lines.push(`    secret: ${s.webhook.secret ?? '(hidden while the vault is sealed)'}`);
  }
  return lines.join('\n');
}

export async function run(argv: string[], io: Io): Promise<number> {
  const cli = new Cli(io);
  const [cmd, ...rest] = argv;
  const json = argv.includes('--json');
  try {
    if (!cmd) {
      io.err(HELP);
      return 2;
    }
    if (cmd === 'help' || cmd === '--help' || cmd === '-h' || rest.includes('--help') || rest.includes('-h')) {
      io.out(HELP);
      return 0;
    }
    switch (cmd) {
      case 'login': return await cli.login(rest, false);
      case 'register': return await cli.login(rest, true);
      case 'logout': return await cli.logout(rest);
      case 'whoami': return await cli.whoami(rest);
      case 'deploy': return await cli.deploy(rest);
      case 'apps': return await cli.apps(rest);
      case 'logs': return await cli.logs(rest);
      case 'stats': return await statsCommand(cli, rest);
      case 'secrets': return await cli.secrets(rest);
      case 'admin': return await cli.admin(rest);
      case 'orgs': return await orgsCommand(cli, rest);
      case 'members': return await membersCommand(cli, rest);
      case 'invitations': return await invitationsCommand(cli, rest);
      case 'tokens': return await tokensCommand(cli, rest);
      case 'audit': return await auditCommand(cli, rest);
      case 'deployments': return await deploymentsCommand(cli, rest);
      case 'rollback': return await rollbackCommand(cli, rest);
      default: throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`usage error: ${e.message}\nRun \`cynchro --help\` for usage.\n`);
      return 2;
    }
    const err = CynchroError.from(e);
    if (json) io.err(JSON.stringify({ error: err.code, message: err.message, status: err.status, ...(err.details !== undefined ? { details: err.details } : {}) }) + '\n');
    else {
      io.err(`error: ${err.code}: ${err.message}\n`);
      for (const [field, msgs] of Object.entries(err.fieldErrors)) io.err(`  ${field}: ${msgs.join('; ')}\n`);
    }
    return 1;
  }
}

/** The bin's entry: real stdio, and Ctrl-C ends a follow or a wait cleanly. */
export async function main(argv: string[]): Promise<number> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await run(argv, {
      out: (s) => process.stdout.write(s),
      err: (s) => process.stderr.write(s),
      env: process.env,
      signal: ac.signal,
    });
  } finally {
    closePrompts();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
