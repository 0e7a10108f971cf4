// Every layout of associated data (AAD) the vault binds a ciphertext to: the one home of this knowledge. A value
// decrypts only under the AAD it was sealed with, so a ciphertext copied to another org, app, service, key or kind
// of field fails instead of leaking. The layouts are stable: changing one makes stored values undecryptable.
//
// | kind           | layout                                          | stored in                                   |
// |----------------|-------------------------------------------------|---------------------------------------------|
// | secret value   | ['secret', orgId, appId or '', name, key]       | secrets.data (per key)                      |
// | inline env     | ['env', orgId, appId, service or '', key]       | apps.spec and deployments.spec (env maps)   |
// | repo token     | ['repo-token', orgId, appId]                    | apps.spec and deployments.spec (repo.token) |
// | webhook secret | ['webhook-secret', orgId, appId]                | apps.webhook_secret                         |
//
// The first element names the kind, so values of two kinds can never be swapped for one another.

export const AAD = {
  /** A secret's value; `appId` null for an org-wide secret. */
  secret: (orgId: string, appId: string | null, name: string, key: string): string[] => ['secret', orgId, appId ?? '', name, key],
  /** An inline env value; `service` '' for app-wide env. */
  env: (orgId: string, appId: string, service: string, key: string): string[] => ['env', orgId, appId, service, key],
  repoToken: (orgId: string, appId: string): string[] => ['repo-token', orgId, appId],
  webhookSecret: (orgId: string, appId: string): string[] => ['webhook-secret', orgId, appId],
} as const;
