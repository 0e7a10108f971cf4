import { adminRouter } from '../modules/admin/admin.router.js';
import { appsRouter } from '../modules/apps/apps.router.js';
import { auditRouter } from '../modules/audit/audit.router.js';
import { deployRouter } from '../modules/deploy/deploy.router.js';
import { authRouter } from '../modules/auth/auth.router.js';
import { invitationsRouter, orgsRouter } from '../modules/orgs/orgs.router.js';
import { secretsRouter } from '../modules/secrets/secrets.router.js';
import { statsRouter } from '../modules/stats/stats.router.js';
import { tokensRouter } from '../modules/tokens/tokens.router.js';
import { router } from './trpc.js';

export const appRouter = router({
  auth: authRouter,
  secrets: secretsRouter,
  admin: adminRouter,
  deploy: deployRouter.deploy,
  apps: appsRouter,
  stats: statsRouter,
  orgs: orgsRouter,
  invitations: invitationsRouter,
  tokens: tokensRouter,
  audit: auditRouter,
});

export type AppRouter = typeof appRouter;
