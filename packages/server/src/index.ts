// The server package's public surface is types only: the SDK imports them, nothing imports the server at run time.
export type { AppRouter } from './trpc/app-router.js';
// What clients (the SDK) type against: procedures' inputs and outputs only, declared without the server's own types.
export type { ClientRouter } from './trpc/client-router.js';
export type { CynchroErrorData } from './trpc/trpc.js';
export type { ErrorBody, ErrorCode } from './errors/app-error.js';
