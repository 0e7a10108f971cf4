import { sql, type Kysely } from 'kysely';
import type { AppLookup } from './secrets.service.js';

/**
 * The AppLookup the server uses until the apps module (issue 5) provides its own: it reads `apps(id, org_id)` when
 * that table exists and otherwise knows no apps, so an `appId` answers 404 `app_not_found`. Only the table's
 * existence is cached, and only once it is seen (migrations create tables; nothing drops them).
 */
export function sqliteAppLookup(db: Kysely<any>): AppLookup {
  let hasApps = false;
  return {
    async belongsToOrg(orgId, appId) {
      if (!hasApps) {
        const t = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name = 'apps'`.execute(db);
        if (t.rows.length === 0) return false;
        hasApps = true;
      }
      const r = await sql<{ one: number }>`select 1 as one from apps where id = ${appId} and org_id = ${orgId} limit 1`.execute(db);
      return r.rows.length > 0;
    },
  };
}
