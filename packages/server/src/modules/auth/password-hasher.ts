// Argon2id at OWASP's minimum (m=19456 KiB, t=2, p=1). Unknown emails are checked against a dummy hash made with
// the same parameters, so "no such user" and "wrong password" cost the same time.
import { hash, verify } from '@node-rs/argon2';

const PARAMS = { memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export class PasswordHasher {
  #dummy: Promise<string> | undefined;

  hash(password: string): Promise<string> {
    return hash(password, PARAMS);
  }

  async verify(hashed: string, password: string): Promise<boolean> {
    try {
      return await verify(hashed, password);
    } catch {
      return false;
    }
  }

  /** Burns the same work as a real verification; always false. */
  async verifyDummy(password: string): Promise<false> {
    this.#dummy ??= this.hash('cynchro-dummy-password-for-timing');
    await this.verify(await this.#dummy, password);
    return false;
  }
}
