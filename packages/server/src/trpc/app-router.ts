import { adminRouter } from '../modules/admin/admin.router.js';
import { authRouter } from '../modules/auth/auth.router.js';
import { secretsRouter } from '../modules/secrets/secrets.router.js';
import { router } from './trpc.js';

export const appRouter = router({
  auth: authRouter,
  secrets: secretsRouter,
  admin: adminRouter,
});

export type AppRouter = typeof appRouter;
