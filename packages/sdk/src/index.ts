export { createClient, CynchroClient, call, type ClientOptions, type RouterInputs, type RouterOutputs } from './create-client.js';
export { CynchroError } from './cynchro-error.js';
export { MemoryTokenStore, type Tokens, type TokenStore } from './token-store.js';
export type { Credentials } from './session.js';
