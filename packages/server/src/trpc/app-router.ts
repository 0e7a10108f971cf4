import { adminRouter } from '../modules/admin/admin.router.js';
import { appsRouter } from '../modules/apps/apps.router.js';
import { deployRouter } from '../modules/deploy/deploy.router.js';
import { authRouter } from '../modules/auth/auth.router.js';
import { secretsRouter } from '../modules/secrets/secrets.router.js';
import { router } from './trpc.js';

export const appRouter = router({
  auth: authRouter,
  secrets: secretsRouter,
  admin: adminRouter,
  deploy: deployRouter.deploy,
  apps: appsRouter,
});

export type AppRouter = typeof appRouter;
