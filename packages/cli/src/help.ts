// `cynchro --help`.
export const HELP = `Usage: cynchro <command> [options]

Commands:
  login [--url URL] [--email E] [--password-stdin]   log in (prompts for what is missing); stores the session
  register [--url URL] [--email E] [--password-stdin] [--name N]
  logout                                         revoke the session and forget it
  whoami
  deploy <name> (--image REF | --repo URL) [--port N] [--domain D] [--env K=V]... [--env-from SECRET]...
         [--secret-file SECRET]... [--cpu N] [--memory MB] [--replicas N] [--branch B] [--dockerfile F] [--context DIR]
         [--repo-token-stdin] [--wait] [--timeout SECONDS]
  deploy <name> --compose FILE [--repo URL] [--branch B] [--env K=V]... [--env-from S]... [--wait] [--timeout S]
                                                 the services of a Compose file (build: services from --repo, \${VAR}
                                                 from the environment); a file Cynchro cannot run exits 2, printing
                                                 each problem as FILE:LINE: KEY: MESSAGE
  apps ls | apps get <app> | apps restart <app> | apps stop <app> | apps rm <app>
  apps rotate-webhook <app>                      new GitHub webhook secret (repo apps)
  logs <app> [-f|--follow] [--tail N]
  stats <app>                                    CPU, memory, restarts and uptime of each running replica
  deployments <app> [--limit N] [--before CURSOR]   the release history, newest first
  rollback <app> [--to DEPLOYMENT] [--wait]      re-deploy an earlier release exactly (default: the one before)
  secrets set <name> K=V... [--app APP] | secrets ls | secrets get <name> [--app APP] | secrets rm <name> [--app APP]

  orgs ls                                        your orgs and your role in each (* the one the session acts in)
  orgs create <name> | orgs rename <org> <name>
  orgs switch <org>                              act in another org of yours (stores the new session)
  members ls [--org ORG]
  members invite <email> --role R [--org ORG]    R: owner, admin, developer, viewer; prints the invitation token once
  members role <user> <role> [--org ORG] | members rm <user> [--org ORG]
  invitations accept <token>                     join the org that invited you (- reads the token from stdin)
  invitations ls [--org ORG] | invitations revoke <id> [--org ORG]
  tokens create <name> --scope S... [--app APP] [--expires-in-days N]
                                                 an API token for CI and scripts; S: read, deploy, secrets, manage;
                                                 --app limits it to one app; prints the secret once (--json: all of it)
  tokens ls | tokens revoke <id>
  audit [--limit N] [--before CURSOR]            the org's audit log, newest first (owners and admins)

  admin claim [--token-file FILE]                become an operator (ADMIN_EMAILS accounts) with the operator token:
                                                 read from the file, else from stdin (cat $DATA_DIR/operator-token | …)
  admin status | admin unseal [--previous KEY] | admin seal
                                                 unseal reads the key from CYNCHRO_MASTER_KEY, else stdin / a prompt,
                                                 and a rotation's current key from CYNCHRO_PREVIOUS_MASTER_KEY
  admin audit [--limit N] [--before CURSOR]      the operators' own log (vault actions)
  admin nodes                                    the machines apps run on (the engine, or each Swarm node): role,
                                                 state, availability, CPUs, memory and how many apps run there

<app> is an app's name or id, <org> an org's name or id, <user> a member's email or user id. Members and
invitations act in the session's org unless --org says otherwise.
Global options: --json (machine-readable output), --url URL (API base URL, else CYNCHRO_URL), -h/--help.
The session lives in $XDG_CONFIG_HOME/cynchro/credentials.json (~/.config by default), mode 0600.
CI and scripts: with CYNCHRO_TOKEN set (an API token from \`cynchro tokens create\`) and CYNCHRO_URL (or --url),
every command acts with that token; the credentials file is never read nor written, and no login is needed (login,
logout and orgs switch are refused). An API token cannot reach orgs, members, tokens or admin.
Secrets never need the command line (where other users see them in ps and they stay in shell history): passwords
come from --password-stdin, CYNCHRO_PASSWORD or a prompt, repo tokens from --repo-token-stdin or CYNCHRO_REPO_TOKEN.
The old forms (--password P, --repo-token T, unseal <key>, claim <token>) still work, with a warning on stderr.
Exit codes: 0 ok, 1 API error, 2 usage error.
`;
