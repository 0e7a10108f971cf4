// The router as a client sees it: each procedure's input and output, the error shape and the transformer, nothing
// of the server's context or meta (services, database, engine types). Its declaration is what the SDK's bundled
// .d.ts inlines, so it must not name a type only the server's dependencies declare. The mapping types are local to
// a function on purpose: a declaration cannot name them, so the emitted .d.ts spells every procedure out.
import type { AnyTRPCRouter, TRPCBuiltRouter, TRPCMutationProcedure, TRPCQueryProcedure, TRPCSubscriptionProcedure } from '@trpc/server';
import type { appRouter } from './app-router.js';

function clientView<R extends AnyTRPCRouter>(router: R) {
  type ClientRecord<T> = {
    [K in keyof T]: T[K] extends TRPCQueryProcedure<infer D>
      ? TRPCQueryProcedure<{ input: D['input']; output: D['output']; meta: object }>
      : T[K] extends TRPCMutationProcedure<infer D>
        ? TRPCMutationProcedure<{ input: D['input']; output: D['output']; meta: object }>
        : T[K] extends TRPCSubscriptionProcedure<infer D>
          ? TRPCSubscriptionProcedure<{ input: D['input']; output: D['output']; meta: object }>
          : T[K] extends AnyTRPCRouter
            ? ClientRecord<T[K]['_def']['record']>
            : ClientRecord<T[K]>;
  };
  type Types = R['_def']['_config']['$types'];
  return router as unknown as TRPCBuiltRouter<{ ctx: object; meta: object; errorShape: Types['errorShape']; transformer: Types['transformer'] }, ClientRecord<R['_def']['record']>>;
}

// Only its type is used (nothing at run time imports this module); inferred, so that its declaration is expanded.
const clientRouter = clientView(null as unknown as typeof appRouter);

export type ClientRouter = typeof clientRouter;
