// A Compose file → the multi-service part of POST /deploy (CONTRACT.md, "Multi-service apps").
//
// Read as a YAML syntax tree (not as plain data) so that every refusal names its key and line. Every problem is
// collected before anything is refused: ComposeError lists them all. Pure string work, no Node built-ins: it runs
// in the browser build too.
//
// What a Compose file can say, and what Cynchro makes of it (a service key not listed here is refused):
//   image                      the image (with build too: build wins; Compose's image is only the tag of its build)
//   build                      string context, or {context, dockerfile} → built from the app's repo (options.repo or
//                              the top-level x-cynchro.repo); paths are relative to the repo; other build keys
//                              (args, target, …) are refused: the platform builds with the Dockerfile alone
//   command                    a list, or a string split as a shell splits words ('…', "…", \); no shell runs it
//   environment                a map or a KEY=VALUE list; a key without a value takes options.variables' value
//   ports                      the container port only ("8080", "80:8080", "127.0.0.1:80:8080/tcp", {target}):
//                              the ingress routes HTTP to it (and probes it), nothing is published on the host. One
//                              per service, and only on HTTP services: a database's "5432:5432" must go (its
//                              siblings reach it by name without ports)
//   expose                     ignored: an app's services reach each other on every port anyway
//   volumes                    named volumes (name:/path, {type: volume}); bind mounts, tmpfs and anonymous
//                              volumes are refused. Names become DNS-safe ("db_data" → "db-data").
//   depends_on                 list or map (condition service_started or service_healthy): the names are kept;
//                              Cynchro starts a service once those it depends on are healthy
//   deploy.replicas, deploy.resources.limits.{cpus, memory} (and the older cpus/mem_limit); memory → MB, rounded up
//   deploy.resources.reservations, restart_policy, update_config, rollback_config, labels: ignored (scheduling
//                              and rollout are Cynchro's own: it keeps every service running, rolls out with zero
//                              failed requests)
//   x-cynchro                  what Compose cannot say: {domain, healthcheck: {path}, envFrom, secretFiles}
//   x-* (other)                ignored, as Compose ignores extension fields (often just YAML anchors)
//   healthcheck                refused (Cynchro cannot run a test command; the hint points at
//                              x-cynchro.healthcheck.path), except `disable: true`, which is ignored. Without a path,
//                              a routed service is healthy when its port answers, others when they keep running.
//   container_name             ignored when equal to the service name; otherwise refused: siblings reach a service by
//                              its service name only, so a hostname they may use would silently not resolve
//   restart                    ignored (always, unless-stopped, on-failure): Cynchro restarts every service of a
//                              running app; "no" is refused: one-shot jobs are not a service Cynchro can run
//   labels                     ignored: Cynchro labels its containers itself, and routes by x-cynchro.domain
//   networks                   names are ignored (an app's services share one private network); options such
//                              as aliases or fixed addresses are refused; top-level external networks are refused
//   env_file, secrets, configs refused (files on your machine): Cynchro secrets, via x-cynchro.envFrom/secretFiles
//   privileged, devices, cap_add, pid, ipc, userns_mode, network_mode, extra_hosts, volumes_from, security_opt, …
//                              refused
// Top level: services; volumes (declarations by name); networks; version and name (ignored); x-cynchro {repo,
// branch}; other x-* ignored; anything else refused.
//
// ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR:+alternative}, $VAR and $$ are interpolated as
// Compose does, from options.variables; unlike Compose, a variable that is not set (and has no default) is a
// problem, not an empty string: deploying an empty password is worse than refusing.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import type { DeployInput } from './types.js';

/** One service of POST /deploy's `services`. */
export type ComposeService = NonNullable<DeployInput['services']>[number];

/** The part of POST /deploy a Compose file gives; add `name` (and top-level env, secrets, repoToken) to deploy it. */
export interface ComposeDeployInput {
  services: ComposeService[];
  /** The repo build services are built from: options.repo, else the file's top-level x-cynchro.repo. */
  repo?: string;
  /** The file's top-level x-cynchro.branch. */
  branch?: string;
}

export interface ComposeOptions {
  /** The app's repo (build services are built from it); wins over the file's x-cynchro.repo. */
  repo?: string;
  /** Values for ${VAR} interpolation and for environment keys given without a value (the CLI passes its env). */
  variables?: Record<string, string | undefined>;
}

export interface ComposeProblem {
  /** Where, as a path: `services.web.privileged`, `services.web.ports[1]`; empty for a YAML syntax error. */
  key: string;
  /** 1-based line in the file. */
  line: number;
  message: string;
}

/** A Compose file Cynchro cannot deploy as it is: every problem found, each with its key and line. */
export class ComposeError extends Error {
  readonly problems: readonly ComposeProblem[];

  constructor(problems: readonly ComposeProblem[]) {
    const n = problems.length;
    super(`The Compose file cannot be deployed (${n} problem${n === 1 ? '' : 's'}):\n${problems.map((p) => `  line ${p.line}: ${p.key ? `${p.key}: ` : ''}${p.message}`).join('\n')}`);
    this.name = 'ComposeError';
    this.problems = problems;
  }
}

// The server's rules for names (deploy.schema.ts: DNS_LABEL, ENV_KEY), repeated here so that a refusal can name
// its line; the server still checks everything it receives.
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

const SUPPORTED = 'image, build, command, environment, ports, expose, volumes, depends_on, deploy, x-cynchro';

/** Service keys refused with a reason of their own (anything else unknown gets the generic one). */
const REFUSED: Record<string, string> = {
  privileged: 'privileged containers are never run: they would own the host',
  devices: "the host's devices are not available to apps",
  cap_add: 'extra kernel capabilities are not granted',
  cap_drop: 'capabilities are set by the platform (it already drops what apps do not need)',
  pid: "sharing the host's or another container's process namespace is refused",
  ipc: "sharing the host's or another container's IPC namespace is refused",
  userns_mode: 'user namespaces are set by the platform',
  uts: "sharing the host's UTS namespace is refused",
  cgroup: 'cgroup namespaces are set by the platform',
  cgroup_parent: 'cgroups are set by the platform',
  security_opt: 'security options are set by the platform',
  sysctls: 'kernel parameters are set by the platform',
  extra_hosts: '/etc/hosts entries are not supported: siblings reach each other by service name, other hosts by DNS',
  volumes_from: 'share data through a named volume instead (name:/path in both services)',
  links: 'not needed: services reach each other by service name (use depends_on for start order)',
  external_links: 'an app reaches only its own services (by service name) and public hosts',
  env_file: 'env files stay on your machine: put the values in a Cynchro secret (cynchro secrets set NAME K=V…) and list it in x-cynchro.envFrom',
  secrets: 'Compose secrets are files on your machine: put them in a Cynchro secret (cynchro secrets set NAME K=V…) and list it in x-cynchro.secretFiles (mounted at /run/secrets/<KEY>) or x-cynchro.envFrom',
  configs: 'config files stay on your machine: bake them into the image, or use a Cynchro secret in x-cynchro.secretFiles',
  entrypoint: "the image's entrypoint always runs: put the program and its arguments in command, or set ENTRYPOINT in the Dockerfile",
  scale: 'use deploy.replicas',
  profiles: 'profiles are not supported: every service in the file is deployed (remove the ones you do not want)',
};

/** Top-level keys refused with a reason of their own. */
const REFUSED_TOP: Record<string, string> = {
  secrets: REFUSED.secrets!,
  configs: REFUSED.configs!,
  include: 'include is not supported: put every service in this one file',
};

interface Entry {
  name: string;
  /** Path of this entry, e.g. services.web.image */
  key: string;
  /** Line of the key. */
  line: number;
  /** The value, aliases resolved; null when the key has no value. */
  value: YamlNode | null;
}

interface Item {
  key: string;
  line: number;
  value: YamlNode | null;
}

/** Turns a Compose file into `services` (and `repo`/`branch`) of POST /deploy; throws ComposeError listing every problem. */
export function deployInputFromCompose(yamlText: string, options: ComposeOptions = {}): ComposeDeployInput {
  return new ComposeReader(yamlText, options).read();
}

class ComposeReader {
  private readonly lines = new LineCounter();
  private readonly doc: Document;
  private readonly problems: ComposeProblem[] = [];

  constructor(
    text: string,
    private readonly options: ComposeOptions,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false });
  }

  read(): ComposeDeployInput {
    if (this.doc.errors.length) {
      for (const e of this.doc.errors) this.problem('', this.lineAt(e.pos[0]), `YAML: ${e.message}`);
      throw new ComposeError(this.problems);
    }
    const out: ComposeDeployInput = { services: [] };
    const root = this.deref(this.doc.contents as YamlNode | null);
    const top = root && isMap(root) ? this.entries(root, '') : undefined;
    if (!top) {
      this.problem('', 1, 'a Compose file is a mapping with a services: key');
      throw new ComposeError(this.problems);
    }
    let servicesEntry: Entry | undefined;
    let declaredVolumes: Map<string, string> | undefined;
    let repoFromFile: string | undefined;
    for (const e of top) {
      if (e.name === 'services') servicesEntry = e;
      else if (e.name === 'volumes') declaredVolumes = this.topVolumes(e);
      else if (e.name === 'networks') this.topNetworks(e);
      else if (e.name === 'version' || e.name === 'name') continue; // obsolete / the app's name comes from the deploy
      else if (e.name === 'x-cynchro') {
        const x = this.topCynchro(e);
        repoFromFile = x.repo;
        if (x.branch) out.branch = x.branch;
      } else if (e.name.startsWith('x-')) continue;
      else this.problem(e.key, e.line, REFUSED_TOP[e.name] ?? 'unknown top-level key (a Compose file for Cynchro has services, volumes, networks, x-cynchro)');
    }
    const repo = this.options.repo || repoFromFile;
    if (repo) out.repo = repo;

    const serviceEntries = servicesEntry ? this.entries(servicesEntry.value, 'services', servicesEntry.line) : undefined;
    if (!servicesEntry) this.problem('services', 1, 'missing: a Compose file lists its services under services:');
    else if (serviceEntries && !serviceEntries.length) this.problem('services', servicesEntry.line, 'no services');
    const names = new Set((serviceEntries ?? []).map((s) => s.name));
    const deps: { from: string; name: string; key: string; line: number }[] = [];
    for (const s of serviceEntries ?? []) {
      const svc = this.service(s, { hasRepo: !!repo, declaredVolumes: declaredVolumes ?? new Map(), deps });
      if (svc) out.services.push(svc);
    }
    for (const d of deps) {
      if (d.name === d.from) this.problem(d.key, d.line, 'a service cannot depend on itself');
      else if (!names.has(d.name)) this.problem(d.key, d.line, `no service named "${d.name}" in this file`);
    }
    if (this.problems.length) throw new ComposeError(this.problems.sort((a, b) => a.line - b.line));
    return out;
  }

  // ── top level ──────────────────────────────────────────────────────────────────────────────────────────────

  /** Declared named volumes: Compose name → Cynchro's DNS-safe name. */
  private topVolumes(e: Entry): Map<string, string> {
    const out = new Map<string, string>();
    const taken = new Map<string, string>();
    for (const v of this.entries(e.value, e.key, e.line, true) ?? []) {
      const name = this.volumeName(v.name, v.key, v.line);
      if (name) {
        const other = taken.get(name);
        if (other !== undefined) this.problem(v.key, v.line, `becomes "${name}" (volume names are DNS-safe), as "${other}" does: rename one`);
        taken.set(name, v.name);
        out.set(v.name, name);
      }
      for (const o of this.entries(v.value, v.key, v.line, true) ?? []) {
        if (o.name === 'labels' || (o.name === 'external' && !this.bool(o.value, o.key, o.line))) continue; // harmless
        if (o.name === 'external') this.problem(o.key, o.line, 'external volumes are not supported: Cynchro creates the named volumes of each app itself');
        else this.problem(o.key, o.line, 'volume options are not supported: declare the name only (Cynchro creates, keeps and removes the volume with the app)');
      }
    }
    return out;
  }

  private topNetworks(e: Entry): void {
    for (const n of this.entries(e.value, e.key, e.line, true) ?? []) {
      for (const o of this.entries(n.value, n.key, n.line, true) ?? []) {
        if (o.name === 'external' && this.bool(o.value, o.key, o.line)) this.problem(o.key, o.line, "external networks are not reachable: an app's services share their own private network");
        // driver, labels, internal, ipam…: all services share one private network, whatever is declared.
      }
    }
  }

  private topCynchro(e: Entry): { repo?: string; branch?: string } {
    const out: { repo?: string; branch?: string } = {};
    for (const o of this.entries(e.value, e.key, e.line) ?? []) {
      if (o.name === 'repo' || o.name === 'branch') {
        const v = this.text(o.value, o.key, o.line);
        if (v) out[o.name] = v;
      } else this.problem(o.key, o.line, 'unknown x-cynchro key (top level: repo, branch; per service: domain, healthcheck, envFrom, secretFiles)');
    }
    return out;
  }

  // ── services ───────────────────────────────────────────────────────────────────────────────────────────────

  private service(
    s: Entry,
    ctx: { hasRepo: boolean; declaredVolumes: Map<string, string>; deps: { from: string; name: string; key: string; line: number }[] },
  ): ComposeService | undefined {
    const okName = DNS_LABEL.test(s.name);
    if (!okName)
      this.problem(s.key, s.line, `service names must be DNS-safe (siblings reach a service by its name): lowercase letters, digits and "-", not starting or ending with "-", at most 63 (e.g. "${suggestDnsName(s.name)}")`);
    const entries = this.entries(s.value, s.key, s.line);
    if (!entries) return undefined;
    // Built in the order people read it: name, then where the image comes from, then the rest.
    const source: Pick<ComposeService, 'image' | 'context' | 'dockerfile'> = {};
    const svc: Omit<ComposeService, 'name'> = {};
    let image: Entry | undefined;
    let build: Entry | undefined;
    let limits: { cpus?: Entry; memory?: Entry } = {};
    const legacy: { cpus?: Entry; memory?: Entry } = {};
    for (const e of entries) {
      switch (e.name) {
        case 'image':
          image = e;
          break;
        case 'build':
          build = e;
          break;
        case 'command': {
          const cmd = this.command(e);
          if (cmd) svc.command = cmd;
          break;
        }
        case 'environment': {
          const env = this.environment(e);
          if (env && Object.keys(env).length) svc.env = env;
          break;
        }
        case 'ports': {
          const port = this.ports(e);
          if (port !== undefined) svc.port = port;
          break;
        }
        case 'expose':
          break; // siblings reach every port of a service without it
        case 'volumes': {
          const vols = this.volumes(e, ctx.declaredVolumes);
          if (vols.length) svc.volumes = vols;
          break;
        }
        case 'depends_on': {
          const deps = this.dependsOn(e);
          for (const d of deps) ctx.deps.push({ from: s.name, ...d });
          if (deps.length) svc.dependsOn = deps.map((d) => d.name);
          break;
        }
        case 'deploy': {
          const d = this.deploy(e);
          if (d.replicas !== undefined) svc.replicas = d.replicas;
          limits = d.limits;
          break;
        }
        case 'cpus':
          legacy.cpus = e;
          break;
        case 'mem_limit':
          legacy.memory = e;
          break;
        case 'x-cynchro':
          this.serviceCynchro(e, svc);
          break;
        case 'healthcheck':
          this.healthcheck(e);
          break;
        case 'container_name': {
          const v = this.text(e.value, e.key, e.line);
          if (v !== undefined && v !== s.name)
            this.problem(e.key, e.line, `siblings reach a service by its service name only, so "${v}" would not resolve: rename the service to it, or drop container_name`);
          break;
        }
        case 'restart': {
          const v = this.text(e.value, e.key, e.line);
          if (v === 'no') this.problem(e.key, e.line, 'Cynchro keeps every service running: one-shot jobs are not supported (run them in the image\'s start command instead)');
          else if (v !== undefined && !/^(always|unless-stopped|on-failure(:\d+)?)$/.test(v)) this.problem(e.key, e.line, `unknown restart policy "${v}"`);
          break; // otherwise ignored: Cynchro restarts every service of a running app
        }
        case 'labels':
          break; // Cynchro labels its containers itself; routing comes from x-cynchro.domain
        case 'networks':
          this.serviceNetworks(e);
          break;
        case 'network_mode':
          this.problem(e.key, e.line, this.text(e.value, e.key, e.line) === 'host'
            ? "host networking is refused: apps never share the host's network (the ingress routes to the port in ports)"
            : "network modes are not supported: an app's services share one private network");
          break;
        default:
          if (e.name.startsWith('x-')) break; // extension fields, as Compose ignores them
          this.problem(e.key, e.line, REFUSED[e.name] ?? `unknown or unsupported key (a service takes ${SUPPORTED})`);
      }
    }
    if (build) {
      // With both, Compose builds and tags the result with image; Cynchro tags its builds itself.
      const b = this.build(build);
      if (b) Object.assign(source, b);
      if (!ctx.hasRepo) this.problem(build.key, build.line, 'a service built from source needs the app\'s repo: pass --repo URL (options.repo), or set repo in the top-level x-cynchro');
    } else if (image) {
      const v = this.text(image.value, image.key, image.line);
      if (v) source.image = v;
    } else this.problem(s.key, s.line, 'needs image, or build (from the app\'s repo)');
    if (legacy.cpus && limits.cpus) this.problem(legacy.cpus.key, legacy.cpus.line, 'give cpus or deploy.resources.limits.cpus, not both');
    if (legacy.memory && limits.memory) this.problem(legacy.memory.key, legacy.memory.line, 'give mem_limit or deploy.resources.limits.memory, not both');
    const cpus = limits.cpus ?? legacy.cpus;
    if (cpus) {
      const v = this.cpus(cpus);
      if (v !== undefined) svc.cpu = v;
    }
    const memory = limits.memory ?? legacy.memory;
    if (memory) {
      const v = this.memory(memory);
      if (v !== undefined) svc.memory = v;
    }
    return okName ? { name: s.name, ...source, ...svc } : undefined;
  }

  private build(e: Entry): { context: string; dockerfile?: string } | undefined {
    const v = e.value;
    if (v && isScalar(v)) {
      const context = this.repoPath(this.text(v, e.key, e.line), e.key, e.line, 'context');
      return context === undefined ? undefined : { context };
    }
    const out: { context: string; dockerfile?: string } = { context: '.' };
    let ok = true;
    for (const o of this.entries(v, e.key, e.line) ?? []) {
      if (o.name === 'context' || o.name === 'dockerfile') {
        const p = this.repoPath(this.text(o.value, o.key, o.line), o.key, o.line, o.name);
        if (p === undefined) ok = false;
        else if (o.name === 'context') out.context = p;
        else out.dockerfile = p;
      } else {
        ok = false;
        this.problem(o.key, o.line, o.name === 'args'
          ? 'build args are not supported: give defaults with ARG/ENV in the Dockerfile, and runtime values in environment'
          : 'not supported: a service is built from its context and dockerfile alone');
      }
    }
    return ok ? out : undefined;
  }

  /** A path inside the app's repo, as the server takes it: relative, no "..", without a leading "./". */
  private repoPath(p: string | undefined, key: string, line: number, what: 'context' | 'dockerfile'): string | undefined {
    if (p === undefined) return undefined;
    if (/^[a-z][a-z0-9+.-]*:\/\/|^git@/i.test(p)) return this.problem(key, line, `a ${what} in another repo is not supported: services are built from the app's repo (--repo)`);
    if (p.startsWith('/') || p.startsWith('~')) return this.problem(key, line, `must be a path inside the app's repo, relative to its root (got "${p}")`);
    if (p.split(/[\\/]/).includes('..')) return this.problem(key, line, `must stay inside the app's repo (no "..")`);
    const clean = p.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    return clean === '' ? '.' : clean;
  }

  private command(e: Entry): string[] | undefined {
    const v = e.value;
    if (v && isSeq(v)) {
      const out: string[] = [];
      for (const it of this.items(v, e.key)) {
        const s = this.text(it.value, it.key, it.line);
        if (s === undefined) return undefined;
        out.push(s);
      }
      return out.length ? out : this.problem(e.key, e.line, 'is empty');
    }
    const s = this.text(v, e.key, e.line);
    if (s === undefined) return undefined;
    const words = splitWords(s);
    if (typeof words === 'string') return this.problem(e.key, e.line, words);
    return words.length ? words : this.problem(e.key, e.line, 'is empty');
  }

  private environment(e: Entry): Record<string, string> | undefined {
    const out: Record<string, string> = {};
    const put = (k: string, value: string | undefined, key: string, line: number) => {
      if (!ENV_KEY.test(k)) return void this.problem(key, line, `"${k}" is not a variable name Cynchro accepts ([A-Za-z_][A-Za-z0-9_]*)`);
      const v = value ?? this.variable(k);
      if (v === undefined) return void this.problem(key, line, `${k} has no value here and is not set${this.options.variables ? ' in the environment' : ' (options.variables)'}: give it a value, or keep it in a Cynchro secret listed in x-cynchro.envFrom`);
      out[k] = v;
    };
    const v = e.value;
    if (v && isSeq(v)) {
      for (const it of this.items(v, e.key)) {
        const s = this.text(it.value, it.key, it.line);
        if (s === undefined) continue;
        const i = s.indexOf('=');
        put(i < 0 ? s : s.slice(0, i), i < 0 ? undefined : s.slice(i + 1), it.key, it.line);
      }
      return out;
    }
    for (const o of this.entries(v, e.key, e.line) ?? []) {
      if (!o.value || (isScalar(o.value) && o.value.value === null)) put(o.name, undefined, o.key, o.line);
      else {
        const value = this.text(o.value, o.key, o.line);
        if (value !== undefined) put(o.name, value, o.key, o.line);
      }
    }
    return out;
  }

  private ports(e: Entry): number | undefined {
    const v = e.value;
    if (!v || !isSeq(v)) return this.problem(e.key, e.line, 'must be a list');
    const items = this.items(v, e.key);
    items.slice(1).forEach((it) =>
      this.problem(it.key, it.line, 'a service has one port, the one the ingress routes HTTP to; its siblings reach every port without ports: keep one'),
    );
    const it = items[0];
    if (!it) return undefined;
    if (it.value && isMap(it.value)) {
      let target: number | undefined;
      for (const o of this.entries(it.value, it.key, it.line) ?? []) {
        if (o.name === 'target') target = this.portNumber(this.text(o.value, o.key, o.line), o.key, o.line);
        else if (o.name === 'protocol') this.tcpOnly(this.text(o.value, o.key, o.line), o.key, o.line);
        else if (['published', 'host_ip', 'mode', 'name', 'app_protocol'].includes(o.name)) continue; // nothing is published on the host
        else this.problem(o.key, o.line, 'unknown port option (target, published, host_ip, protocol, mode, name, app_protocol)');
      }
      return target ?? this.problem(it.key, it.line, 'needs target (the container port)');
    }
    const s = this.text(it.value, it.key, it.line);
    if (s === undefined) return undefined;
    // [[host_ip:]host_port:]container_port[/protocol]: the container port is after the last ":".
    const [spec = '', protocol] = s.split('/');
    if (protocol !== undefined) this.tcpOnly(protocol, it.key, it.line);
    const container = spec.slice(spec.lastIndexOf(':') + 1);
    if (/^\d+-\d+$/.test(container)) return this.problem(it.key, it.line, 'port ranges are not supported: a service has one port');
    return this.portNumber(container, it.key, it.line);
  }

  private portNumber(s: string | undefined, key: string, line: number): number | undefined {
    if (s === undefined) return undefined;
    const n = /^\d+$/.test(s) ? Number(s) : NaN;
    return n >= 1 && n <= 65535 ? n : this.problem(key, line, `"${s}" is not a port (1–65535)`);
  }

  private tcpOnly(protocol: string | undefined, key: string, line: number): void {
    if (protocol !== undefined && protocol.toLowerCase() !== 'tcp') this.problem(key, line, `only tcp: the ingress routes HTTP (got ${protocol})`);
  }

  private volumes(e: Entry, declared: Map<string, string>): { name: string; path: string }[] {
    const v = e.value;
    if (!v || !isSeq(v)) return this.problem(e.key, e.line, 'must be a list') ?? [];
    const out: { name: string; path: string }[] = [];
    const named = (source: string, target: string | undefined, key: string, line: number) => {
      if (target === undefined) return;
      if (!target.startsWith('/')) return void this.problem(key, line, `the path in the container must be absolute (got "${target}")`);
      const name = declared.get(source);
      if (name === undefined) return void this.problem(key, line, `volume "${source}" is not declared under the top-level volumes:`);
      out.push({ name, path: target });
    };
    for (const it of this.items(v, e.key)) {
      if (it.value && isMap(it.value)) {
        let type: string | undefined;
        let source: string | undefined;
        let target: string | undefined;
        for (const o of this.entries(it.value, it.key, it.line) ?? []) {
          if (o.name === 'type') type = this.text(o.value, o.key, o.line);
          else if (o.name === 'source') source = this.text(o.value, o.key, o.line);
          else if (o.name === 'target') target = this.text(o.value, o.key, o.line);
          else if (o.name === 'read_only') {
            if (this.bool(o.value, o.key, o.line)) this.problem(o.key, o.line, 'read-only volumes are not supported');
          } else this.problem(o.key, o.line, 'not supported: a volume is type: volume, source (its name) and target (the path)');
        }
        if (type !== 'volume') {
          this.problem(it.key, it.line, type === 'bind' || type === 'npipe'
            ? `${type} mounts are refused: the host's files are not available to apps; use a named volume (type: volume)`
            : type === 'tmpfs'
              ? 'tmpfs mounts are not supported: use a named volume (type: volume), or a directory in the container'
              : `type must be volume (got ${type ?? 'nothing'})`);
          continue;
        }
        if (!source) this.problem(it.key, it.line, 'anonymous volumes are not supported: give source, a volume declared under the top-level volumes:');
        else if (target === undefined) this.problem(it.key, it.line, 'needs target (the path in the container)');
        else named(source, target, it.key, it.line);
        continue;
      }
      const s = this.text(it.value, it.key, it.line);
      if (s === undefined) continue;
      const parts = s.split(':');
      const [source = '', target, mode] = parts;
      if (target === undefined) {
        this.problem(it.key, it.line, `anonymous volumes are not supported: name it (data:${source}) and declare it under the top-level volumes:`);
        continue;
      }
      if (/^[.~/\\]/.test(source) || source.includes('/') || /^[A-Za-z]$/.test(source)) {
        this.problem(it.key, it.line, `bind mounts are refused: the host's files are not available to apps; use a named volume (name:${target}) declared under the top-level volumes:`);
        continue;
      }
      if (parts.length > 3 || (mode !== undefined && mode !== 'rw')) {
        this.problem(it.key, it.line, mode === 'ro' ? 'read-only volumes are not supported' : `volume mode "${parts.slice(2).join(':')}" is not supported`);
        continue;
      }
      named(source, target, it.key, it.line);
    }
    return out;
  }

  /** Cynchro's name for a Compose volume: lowercase, "_" and "." become "-"; must then be DNS-safe. */
  private volumeName(name: string, key: string, line: number): string | undefined {
    const dns = name.toLowerCase().replace(/[_.]/g, '-');
    return DNS_LABEL.test(dns) ? dns : this.problem(key, line, 'volume names are letters, digits, "-", "_" and "." (at most 63, starting and ending with a letter or digit)');
  }

  private dependsOn(e: Entry): { name: string; key: string; line: number }[] {
    const v = e.value;
    if (v && isSeq(v)) {
      return this.items(v, e.key).flatMap((it) => {
        const name = this.text(it.value, it.key, it.line);
        return name === undefined ? [] : [{ name, key: it.key, line: it.line }];
      });
    }
    return (this.entries(v, e.key, e.line) ?? []).map((d) => {
      for (const o of this.entries(d.value, d.key, d.line, true) ?? []) {
        if (o.name === 'condition') {
          const c = this.text(o.value, o.key, o.line);
          if (c === 'service_completed_successfully')
            this.problem(o.key, o.line, 'Cynchro keeps every service running: one-shot jobs are not supported (run them in the image\'s start command instead)');
          else if (c !== undefined && c !== 'service_started' && c !== 'service_healthy') this.problem(o.key, o.line, `unknown condition "${c}"`);
          // started or healthy: Cynchro starts a service once those it depends on are healthy.
        } else if (o.name === 'restart' || o.name === 'required') continue;
        else this.problem(o.key, o.line, 'unknown depends_on option (condition, restart, required)');
      }
      return { name: d.name, key: d.key, line: d.line };
    });
  }

  private deploy(e: Entry): { replicas?: number; limits: { cpus?: Entry; memory?: Entry } } {
    const out: { replicas?: number; limits: { cpus?: Entry; memory?: Entry } } = { limits: {} };
    for (const o of this.entries(e.value, e.key, e.line) ?? []) {
      if (o.name === 'replicas') {
        const n = this.number(o.value, o.key, o.line);
        if (n !== undefined) out.replicas = n;
      } else if (o.name === 'mode') {
        const m = this.text(o.value, o.key, o.line);
        if (m !== undefined && m !== 'replicated') this.problem(o.key, o.line, `only replicated services (got ${m}): set deploy.replicas`);
      } else if (o.name === 'resources') {
        for (const r of this.entries(o.value, o.key, o.line) ?? []) {
          if (r.name === 'limits') {
            for (const l of this.entries(r.value, r.key, r.line) ?? []) {
              if (l.name === 'cpus') out.limits.cpus = l;
              else if (l.name === 'memory') out.limits.memory = l;
              else this.problem(l.key, l.line, 'only cpus and memory limits are supported');
            }
          } else if (r.name === 'reservations') {
            for (const l of this.entries(r.value, r.key, r.line) ?? []) {
              if (l.name === 'devices' || l.name === 'generic_resources') this.problem(l.key, l.line, "the host's devices are not available to apps");
              // cpus, memory: ignored, Cynchro reserves nothing beyond the limits.
            }
          } else this.problem(r.key, r.line, 'only limits (cpus, memory) are supported');
        }
      } else if (['restart_policy', 'update_config', 'rollback_config', 'labels'].includes(o.name)) continue; // Cynchro's own
      else this.problem(o.key, o.line, o.name === 'placement' ? 'placement is not supported: Cynchro chooses where services run' : 'not supported (deploy takes replicas and resources.limits)');
    }
    return out;
  }

  private cpus(e: Entry): number | undefined {
    const s = this.text(e.value, e.key, e.line);
    if (s === undefined) return undefined;
    const n = /^\d+(\.\d+)?$|^\.\d+$/.test(s) ? Number(s) : NaN;
    return n > 0 ? n : this.problem(e.key, e.line, `"${s}" is not a number of cores, such as 0.5`);
  }

  /** Compose byte values ("256M", "1g", "512m", "1.5gb", plain bytes) → whole MB (MiB), rounded up. */
  private memory(e: Entry): number | undefined {
    const s = this.text(e.value, e.key, e.line);
    if (s === undefined) return undefined;
    const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(s.trim());
    const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m?.[2] ?? '').toLowerCase() as '' | 'b' | 'k' | 'm' | 'g'];
    const bytes = m ? Number(m[1]) * unit : NaN;
    return bytes > 0 ? Math.ceil(bytes / 1024 ** 2) : this.problem(e.key, e.line, `"${s}" is not an amount of memory, such as 256M or 1g`);
  }

  private serviceCynchro(e: Entry, svc: Omit<ComposeService, 'name'>): void {
    for (const o of this.entries(e.value, e.key, e.line) ?? []) {
      if (o.name === 'domain') {
        const d = this.text(o.value, o.key, o.line);
        if (d) svc.domain = d;
      } else if (o.name === 'healthcheck') {
        for (const h of this.entries(o.value, o.key, o.line) ?? []) {
          if (h.name !== 'path') {
            this.problem(h.key, h.line, 'x-cynchro.healthcheck takes path (an HTTP path answering 2xx/3xx when healthy)');
            continue;
          }
          const p = this.text(h.value, h.key, h.line);
          if (p !== undefined && !p.startsWith('/')) this.problem(h.key, h.line, 'must start with "/"');
          else if (p !== undefined) svc.healthcheck = { path: p };
        }
      } else if (o.name === 'envFrom' || o.name === 'secretFiles') {
        const v = o.value;
        if (!v || !isSeq(v)) {
          this.problem(o.key, o.line, 'must be a list of Cynchro secret names');
          continue;
        }
        const names = this.items(v, o.key).map((it) => this.text(it.value, it.key, it.line)).filter((x): x is string => !!x);
        if (names.length) svc[o.name] = names;
      } else this.problem(o.key, o.line, 'unknown x-cynchro key (per service: domain, healthcheck, envFrom, secretFiles)');
    }
  }

  private healthcheck(e: Entry): void {
    for (const o of this.entries(e.value, e.key, e.line, true) ?? []) {
      if (o.name === 'disable' && this.bool(o.value, o.key, o.line)) return;
    }
    this.problem(e.key, e.line, 'Cynchro cannot run a health test command: for an HTTP service set x-cynchro.healthcheck.path (the ingress waits for it to answer); otherwise remove it (a service without a port is healthy once it keeps running)');
  }

  private serviceNetworks(e: Entry): void {
    const v = e.value;
    if (v && isSeq(v)) {
      for (const it of this.items(v, e.key)) this.text(it.value, it.key, it.line);
      return;
    }
    for (const n of this.entries(v, e.key, e.line) ?? []) {
      for (const o of this.entries(n.value, n.key, n.line, true) ?? [])
        this.problem(o.key, o.line, "network options are not supported: an app's services share one private network and reach each other by service name");
    }
  }

  // ── the syntax tree ────────────────────────────────────────────────────────────────────────────────────────

  /** Always undefined, so that `return this.problem(…)` reads as "no value, and why". */
  private problem(key: string, line: number, message: string): undefined {
    this.problems.push({ key, line, message });
    return undefined;
  }

  private lineAt(offset: number): number {
    return this.lines.linePos(offset).line;
  }

  private lineOf(node: YamlNode | null | undefined, fallback: number): number {
    const start = node?.range?.[0];
    return start === undefined ? fallback : this.lineAt(start);
  }

  private deref(node: YamlNode | null | undefined): YamlNode | null {
    let n: YamlNode | null | undefined = node;
    for (let hops = 0; n && isAlias(n) && hops < 100; hops++) n = n.resolve(this.doc) ?? null;
    return n ?? null;
  }

  /**
   * A mapping's entries, with `<<` merge keys expanded (the merged entries keep the lines where they are written).
   * Not a mapping: a problem, unless `optional` and empty (`key:` with nothing after it).
   */
  private entries(node: YamlNode | null, key: string, line = 1, optional = false): Entry[] | undefined {
    const n = this.deref(node);
    if (!n || (isScalar(n) && n.value === null)) return optional ? [] : this.problem(key, line, 'must be a mapping');
    if (!isMap(n)) return optional && isScalar(n) && n.value === '' ? [] : this.problem(key, line, 'must be a mapping');
    const out: Entry[] = [];
    const explicit = new Set(n.items.map((p) => (isScalar(p.key) ? String(p.key.value) : '')));
    const seen = new Set<string>();
    for (const p of n.items) {
      const k = p.key as YamlNode | null;
      const kLine = this.lineOf(k, line);
      if (!k || !isScalar(k) || k.value === null || typeof k.value === 'object') {
        this.problem(key, kLine, 'keys must be plain names');
        continue;
      }
      const name = String(k.value);
      if (name === '<<') {
        const src = this.deref(p.value as YamlNode | null);
        const sources = src && isSeq(src) ? src.items.map((i) => this.deref(i as YamlNode)) : [src];
        for (const m of sources) {
          for (const merged of this.entries(m, `${key ? `${key}.` : ''}<<`, kLine) ?? []) {
            if (explicit.has(merged.name) || seen.has(merged.name)) continue;
            seen.add(merged.name);
            out.push({ ...merged, key: key ? `${key}.${merged.name}` : merged.name });
          }
        }
        continue;
      }
      seen.add(name);
      out.push({ name, key: key ? `${key}.${name}` : name, line: kLine, value: this.deref(p.value as YamlNode | null) });
    }
    return out;
  }

  private items(seq: YamlNode, key: string): Item[] {
    if (!isSeq(seq)) return [];
    return seq.items.map((i, n) => ({ key: `${key}[${n}]`, line: this.lineOf(i as YamlNode, 1), value: this.deref(i as YamlNode) }));
  }

  /** A scalar as text (numbers and booleans as written), ${VAR} interpolated; anything else is a problem. */
  private text(node: YamlNode | null, key: string, line: number): string | undefined {
    if (!node || !isScalar(node) || node.value === null || typeof node.value === 'object') return this.problem(key, line, 'must be a value (text or a number)');
    if (typeof node.value !== 'string') return typeof node.source === 'string' && node.source ? node.source : String(node.value);
    return this.interpolate(node.value, key, line);
  }

  private number(node: YamlNode | null, key: string, line: number): number | undefined {
    const s = this.text(node, key, line);
    if (s === undefined) return undefined;
    return /^\d+$/.test(s) ? Number(s) : this.problem(key, line, `"${s}" is not a whole number`);
  }

  private bool(node: YamlNode | null, key: string, line: number): boolean {
    const s = this.text(node, key, line);
    if (s === undefined || s === 'false') return false;
    if (s === 'true') return true;
    this.problem(key, line, 'must be true or false');
    return false;
  }

  private variable(name: string): string | undefined {
    const v = this.options.variables?.[name];
    return v === undefined ? undefined : v;
  }

  /** Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+a}, ${VAR+a}. */
  private interpolate(s: string, key: string, line: number): string | undefined {
    let out = '';
    let i = 0;
    while (i < s.length) {
      const c = s[i]!;
      if (c !== '$') {
        out += c;
        i++;
        continue;
      }
      const next = s[i + 1];
      if (next === '$') {
        out += '$';
        i += 2;
        continue;
      }
      if (next === '{') {
        let depth = 1;
        let j = i + 2;
        for (; j < s.length && depth > 0; j++) {
          if (s[j] === '{') depth++;
          else if (s[j] === '}') depth--;
        }
        if (depth > 0) return this.problem(key, line, `unterminated \${ in "${s}"`);
        const body = s.slice(i + 2, j - 1);
        const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
        if (!m) return this.problem(key, line, `"\${${body}}" is not a variable reference`);
        const [, name = '', op, arg = ''] = m;
        const value = this.variable(name);
        const unsetOrEmpty = value === undefined || (op?.startsWith(':') && value === '');
        if (op === ':-' || op === '-') {
          if (unsetOrEmpty) {
            const d = this.interpolate(arg, key, line);
            if (d === undefined) return undefined;
            out += d;
          } else out += value;
        } else if (op === ':+' || op === '+') {
          if (!unsetOrEmpty) {
            const a = this.interpolate(arg, key, line);
            if (a === undefined) return undefined;
            out += a;
          }
        } else if (op === ':?' || op === '?') {
          if (unsetOrEmpty) return this.problem(key, line, `${name} is not set${arg ? `: ${arg}` : ''}`);
          out += value;
        } else {
          if (value === undefined) return this.problem(key, line, this.unsetMessage(name));
          out += value;
        }
        i = j;
        continue;
      }
      const m = VAR_NAME.exec(s.slice(i + 1));
      if (m) {
        const value = this.variable(m[0]);
        if (value === undefined) return this.problem(key, line, this.unsetMessage(m[0]));
        out += value;
        i += 1 + m[0].length;
        continue;
      }
      out += '$';
      i++;
    }
    return out;
  }

  private unsetMessage(name: string): string {
    return `\${${name}} is not set${this.options.variables ? ' in the environment' : ' (options.variables)'}: set it, give a default (\${${name}:-value}), or write $$ for a literal $`;
  }
}

/** A string split into words as a POSIX shell splits them (quotes and backslashes; nothing expanded); or why not. */
function splitWords(s: string): string[] | string {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) return 'unterminated single quote';
      word += s.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && j + 1 < s.length && '"\\$`\n'.includes(s[j + 1]!)) j++;
        word += s[j];
      }
      if (j >= s.length) return 'unterminated double quote';
      inWord = true;
      i = j;
    } else if (c === '\\') {
      if (i + 1 < s.length) word += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

function suggestDnsName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '') || 'web';
}
