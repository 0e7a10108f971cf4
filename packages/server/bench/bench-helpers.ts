export { get } from '../test/http-get.js';
export { freePort } from '../test/spawn-server.js';
