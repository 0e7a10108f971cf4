/**
 * Encrypt+decrypt throughput of 1 KiB values through the vault against raw node:crypto AES-256-GCM in the same
 * process. The raw side does the same cryptographic work (random 96-bit nonce, 16-byte tag set and enforced,
 * associated data of the same size, a cached KeyObject) but keeps its output as a Buffer, so the ratio also charges
 * the vault for its text format (base64url, header parsing) and AAD encoding.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { MemoryKeyringStorage, createVault, type Vault } from '../src/index.js';

const VALUE_BYTES = 1024;
const OPS_PER_ROUND = 20_000;
const WARMUP_ROUNDS = 2;
const ROUNDS = 7;
const AAD = ['secret', 'org_01HZX3V4W5', 'database', 'PASSWORD'];

const value = randomBytes(VALUE_BYTES);

function rawRoundTrip(key: KeyObject, aad: Buffer): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad);
  const data = cipher.update(value);
  cipher.final();
  const sealed = Buffer.concat([nonce, data, cipher.getAuthTag()]);

  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12), { authTagLength: 16 });
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  decipher.setAAD(aad);
  const plaintext = decipher.update(sealed.subarray(12, sealed.length - 16));
  decipher.final();
  return plaintext;
}

function vaultRoundTrip(vault: Vault): Buffer {
  return vault.decrypt(vault.encrypt(value, AAD), AAD);
}

function opsPerSecond(fn: () => Buffer): number {
  const start = process.hrtime.bigint();
  let check = 0;
  for (let i = 0; i < OPS_PER_ROUND; i += 1) check ^= fn()[0]!;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (check === -1) console.log(''); // keeps the result observable so the loop cannot be optimised away
  return OPS_PER_ROUND / seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const vault = createVault({ storage: new MemoryKeyringStorage() });
  await vault.unseal(randomBytes(32).toString('hex'));
  const rawKey = createSecretKey(randomBytes(32));
  // Same byte length as the vault's encoded AAD (header + length-prefixed parts).
  const rawAad = Buffer.alloc(Buffer.byteLength('v1.1.') + AAD.reduce((n, p) => n + 4 + Buffer.byteLength(p), 0), 7);

  if (!vaultRoundTrip(vault).equals(value) || !rawRoundTrip(rawKey, rawAad).equals(value)) {
    throw new Error('round trip mismatch');
  }

  for (let i = 0; i < WARMUP_ROUNDS; i += 1) {
    opsPerSecond(() => rawRoundTrip(rawKey, rawAad));
    opsPerSecond(() => vaultRoundTrip(vault));
  }

  const raw: number[] = [];
  const through: number[] = [];
  // Alternate the two so drift (thermal, GC, noisy neighbours) hits both sides alike.
  for (let i = 0; i < ROUNDS; i += 1) {
    raw.push(opsPerSecond(() => rawRoundTrip(rawKey, rawAad)));
    through.push(opsPerSecond(() => vaultRoundTrip(vault)));
  }

  const rawOps = median(raw);
  const vaultOps = median(through);
  const ratio = vaultOps / rawOps;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`vault bench: ${VALUE_BYTES} B values, encrypt+decrypt round trips, ${ROUNDS} rounds × ${OPS_PER_ROUND} ops (median)`);
  console.log(`  raw node:crypto AES-256-GCM : ${fmt(rawOps)} ops/s  (rounds: ${raw.map(fmt).join(', ')})`);
  console.log(`  vault                       : ${fmt(vaultOps)} ops/s  (rounds: ${through.map(fmt).join(', ')})`);
  console.log(`  ratio vault/raw             : ${ratio.toFixed(3)}  (goal >= 0.8: ${ratio >= 0.8 ? 'met' : 'NOT met'})`);
  await vault.seal();
}

await main();
