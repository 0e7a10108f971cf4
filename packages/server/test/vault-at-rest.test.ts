// Secrets at rest: values written through the API, then every byte under DATA_DIR searched for them (and for the
// master key), with the WAL unflushed, checkpointed, and after close; then a restart comes back sealed and the same
// key gives the values back. Logs are captured at trace level and searched too.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';

let h: Harness;
const { call, register, operator, unseal, login } = client(() => h);
const logLines: string[] = [];
const log = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });

afterAll(async () => {
  await h.close();
});

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** Which files under DATA_DIR contain any of the needles (as raw bytes). */
function filesContaining(dataDir: string, needles: Buffer[]): string[] {
  const hits: string[] = [];
  for (const file of filesUnder(dataDir)) {
    const content = fs.readFileSync(file);
    for (const n of needles) if (content.includes(n)) hits.push(`${path.basename(file)} contains ${JSON.stringify(n.toString('utf8').slice(0, 20))}…`);
  }
  return hits;
}

describe('secrets at rest', () => {
  // Distinctive values nobody else writes; long enough that a chance match in ciphertext is impossible.
  const marker = () => `plain-${randomBytes(12).toString('hex')}`;
  const values = { PASSWORD: marker(), API_TOKEN: marker(), MULTI_LINE: `-----BEGIN KEY-----\n${marker()}\n-----END KEY-----`, UNICODE: `pässwörd-✓-${marker()}` };
  const replaced = marker();
  const masterKey = newMasterKey();
  const keyNeedles = [masterKey, masterKey.toUpperCase(), Buffer.from(masterKey, 'hex')].map((k) => (Buffer.isBuffer(k) ? k : Buffer.from(k)));
  const valueNeedles = [...Object.values(values), replaced].flatMap((v) => [Buffer.from(v, 'utf8'), Buffer.from(v, 'utf16le')]);
  let user: TestUser;
  let dataDir: string;

  it('stores no secret value and no trace of the master key in any file under DATA_DIR', async () => {
    h = await startHarness(ADMIN_ENV, { log });
    dataDir = h.dataDir;
    const admin = await operator();
    expect((await unseal(admin, masterKey)).body.outcome).toBe('initialized');
    // Failed attempts carry the key too (a wrong one here, and a malformed one with the real key inside it).
    await unseal(admin, newMasterKey());
    await call('POST', '/admin/unseal', { token: admin.accessToken, body: { key: `${masterKey}00` } });
    await unseal(admin, masterKey, newMasterKey()); // a rotation with a wrong previous key

    user = await register();
    expect((await call('POST', '/secrets', { token: user.accessToken, body: { name: 'prod-db', data: { PASSWORD: replaced } } })).status).toBe(200);
    expect((await call('POST', '/secrets', { token: user.accessToken, body: { name: 'prod-db', data: values } })).status).toBe(200);
    expect((await call('POST', '/secrets', { token: user.accessToken, body: { name: 'tmp-secret', data: { PASSWORD: replaced } } })).status).toBe(200);
    expect((await call('DELETE', '/secrets/tmp-secret', { token: user.accessToken })).status).toBe(200);

    // Sanity: the scanner does see what was written (metadata is plaintext), first in the WAL...
    const walHits = filesContaining(dataDir, [Buffer.from('prod-db')]);
    expect(walHits.some((f) => f.startsWith('cynchro.db-wal'))).toBe(true);
    expect(filesContaining(dataDir, [...valueNeedles, ...keyNeedles])).toEqual([]);

    // ...then in the main file after a checkpoint moves the pages there.
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(h.deps.db);
    expect(filesContaining(dataDir, [Buffer.from('prod-db')]).some((f) => f.startsWith('cynchro.db '))).toBe(true);
    expect(filesContaining(dataDir, [...valueNeedles, ...keyNeedles])).toEqual([]);

    await h.close();
    expect(filesContaining(dataDir, [...valueNeedles, ...keyNeedles])).toEqual([]);
  });

  it('never logs the master key or a value, even at trace level', () => {
    expect(logLines.length).toBeGreaterThan(10);
    const all = logLines.join('\n');
    for (const needle of [masterKey, masterKey.toUpperCase(), ...Object.values(values), replaced]) expect(all).not.toContain(needle);
  });

  it('a restart comes back sealed; the same key gives the values back', async () => {
    h = await startHarness(ADMIN_ENV, { dataDir, log });
    const admin = await operator();
    expect((await call('GET', '/admin/seal-status', { token: admin.accessToken })).body).toEqual({ sealed: true });

    const u = await login(user.email);
    // Everything that needs no decryption works while sealed; writing answers 503.
    const list = await call('GET', '/secrets', { token: u.accessToken });
    expect(list.body.secrets).toEqual([expect.objectContaining({ name: 'prod-db', keys: Object.keys(values).sort() })]);
    expect((await call('POST', '/secrets', { token: u.accessToken, body: { name: 'new', data: { A: 'b' } } })).status).toBe(503);
    await expect(h.services.secrets.resolveForApp(u.orgId, 'app_any', ['prod-db'])).rejects.toMatchObject({ code: 'sealed' });

    expect((await unseal(admin, newMasterKey())).body.error).toBe('invalid_key');
    expect((await unseal(admin, masterKey)).body).toEqual({ sealed: false, outcome: 'unsealed' });
    expect(await h.services.secrets.resolveForApp(u.orgId, 'app_any', ['prod-db'])).toEqual({ 'prod-db': values });
  });
});
