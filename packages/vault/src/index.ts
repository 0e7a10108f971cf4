export { createVault, Vault } from './vault.js';
export type { TermInfo, UnsealOutcome, VaultOptions, VaultStatus } from './vault.js';
export { VaultError, isVaultError } from './vault-error.js';
export type { VaultErrorCode } from './vault-error.js';
export { MemoryKeyringStorage } from './keyring-storage.js';
export type { KeyringStorage } from './keyring-storage.js';
