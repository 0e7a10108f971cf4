// `@cynchro/sdk/node`: what only Node can do (files). The main entry stays free of Node imports for browsers.
export { FileTokenStore, defaultCredentialsPath, readCredentialsFile, writeCredentialsFile, type CredentialsFile } from './file-token-store.js';
