// Which host names an app may answer on (CONTRACT.md, "Domains"). Two halves:
//
// - domainShapeProblem: what can be decided from the name and the configuration alone, before anything is stored.
// - conflictingHolders: what depends on the domains other apps hold; it runs inside the transaction that stores the
//   app's domains, so two deploys cannot both pass it (see DeployService.deploy).
//
// Refused with 400 `validation` (the name is not one an app can have, whoever asks):
//   an IP literal (anything whose last label is a number, as browsers parse `127.1` or `0x7f.1` as IPv4),
//   `localhost` and names under it (unless ROOT_DOMAIN is localhost: then `<name>.localhost` is the app space),
//   a single label, and a name more than one label deep under ROOT_DOMAIN (`a.b.<ROOT_DOMAIN>`: default domains are
//   exactly one label deep, so a deeper one would sit inside another app's default domain).
// Refused with 409 `domain_taken` (names the platform holds, as if it were another org):
//   the ROOT_DOMAIN apex and its parents, the host of PUBLIC_API_URL (e.g. `api.<ROOT_DOMAIN>` when the API is
//   served there), its parents, and names under it (outside the app space one label under ROOT_DOMAIN): a parent or a
//   child of a host can set cookies the other receives.
// Refused with 409 `domain_taken` at store time: a domain any other app holds, and one that is a subdomain or a
//   parent of a domain another org holds (the same org's apps may nest: `www.acme.com` and `acme.com`).

export interface DomainPolicyConfig {
  rootDomain: string;
  publicApiUrl: string;
}

export type DomainProblem = { code: 'validation' | 'domain_taken'; message: string };

/** `a.example.com` is under `example.com`; a name is not under itself. */
export function isUnder(domain: string, parent: string): boolean {
  return domain.length > parent.length + 1 && domain.endsWith(`.${parent}`);
}

/** The WHATWG URL parser's "ends in a number": such a host is parsed as (or refused as) an IPv4 address. */
export function isIpLiteral(host: string): boolean {
  if (host.startsWith('[') || host.includes(':')) return true; // IPv6
  const last = host.replace(/\.$/, '').split('.').at(-1) ?? '';
  return /^\d+$/.test(last) || /^0x[0-9a-f]*$/i.test(last);
}

/** The API's host name, or undefined when it is an IP address (no name to hold then) or not a URL. */
export function apiHostOf(publicApiUrl: string): string | undefined {
  let host: string;
  try {
    host = new URL(publicApiUrl).hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return undefined;
  }
  return host && !isIpLiteral(host) ? host : undefined;
}

/** Why `domain` (already lower-cased) cannot be an app's domain, or null when only the holders can say. */
export function domainShapeProblem(domain: string, cfg: DomainPolicyConfig): DomainProblem | null {
  const root = cfg.rootDomain.toLowerCase();
  const api = apiHostOf(cfg.publicApiUrl);
  const invalid = (message: string): DomainProblem => ({ code: 'validation', message });
  const taken = (message: string): DomainProblem => ({ code: 'domain_taken', message });

  if (isIpLiteral(domain)) return invalid(`${domain} is an IP address; use a host name`);
  const inAppSpace = isUnder(domain, root);
  if (domain === 'localhost' || (isUnder(domain, 'localhost') && !inAppSpace)) return invalid(`${domain} is a localhost name; use a public host name`);
  const labels = domain.split('.');
  if (labels.length < 2) return invalid(`${domain} is a single label; use a full host name such as app.example.com`);
  if (domain === root) return taken(`${domain} is the platform's root domain`);
  if (isUnder(root, domain)) return taken(`${domain} contains the platform's root domain ${root}`);
  if (inAppSpace && labels.length - root.split('.').length > 1) {
    return invalid(`${domain} is more than one label deep under ${root}; use <name>.${root} or a domain of your own`);
  }
  if (api) {
    if (domain === api) return taken(`${domain} serves the platform's API`);
    if (isUnder(api, domain)) return taken(`${domain} contains the platform's API host ${api}`);
    if (isUnder(domain, api) && !inAppSpace) return taken(`${domain} is under the platform's API host ${api}`);
  }
  return null;
}

export interface HeldDomain {
  domain: string;
  app_id: string;
  org_id: string;
}

/**
 * The first of `wanted` that collides with what other apps hold: the same name held by any other app, or (for
 * another org's domain) a name inside it or containing it. `held` holds every row that could collide (see
 * DeployService.heldNear); the app's own rows are ignored.
 */
export function conflictingHolder(wanted: string[], held: HeldDomain[], me: { appId: string; orgId: string }): { domain: string; message: string } | null {
  for (const d of wanted) {
    for (const h of held) {
      if (h.app_id === me.appId) continue;
      if (h.domain === d) return { domain: d, message: `Domain ${d} is already used by another app` };
      if (h.org_id === me.orgId) continue;
      if (isUnder(d, h.domain)) return { domain: d, message: `Domain ${d} is inside a domain another org holds` };
      if (isUnder(h.domain, d)) return { domain: d, message: `Domain ${d} contains a domain another org holds` };
    }
  }
  return null;
}

/** `a.b.example.com` → [`b.example.com`, `example.com`, `com`]: every name `domain` is under. */
export function parentsOf(domain: string): string[] {
  const labels = domain.split('.');
  return labels.slice(1).map((_, i) => labels.slice(i + 1).join('.'));
}
