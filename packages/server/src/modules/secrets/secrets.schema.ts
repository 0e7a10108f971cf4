import { z } from 'zod';

/**
 * Secret names: 1–63 characters of lowercase letters, digits, "-", "_" and ".", starting with a letter or digit.
 * Lowercase only, and refused rather than folded: `envFrom: ["DB"]` must never silently mean `db`.
 */
export const SECRET_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** Keys become env var names and /run/secrets/<KEY> file names. */
export const SECRET_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const SECRET_LIMITS = {
  maxKeys: 100,
  maxKeyLength: 128,
  /** Per value, in characters: room for a PEM certificate chain. */
  maxValueLength: 64 * 1024,
  /** All values of one secret together, in characters. */
  maxTotalLength: 256 * 1024,
} as const;

export const secretName = z
  .string()
  .regex(SECRET_NAME, 'must be 1–63 characters of lowercase letters, digits, "-", "_" or ".", starting with a letter or digit')
  .meta({ description: 'Lowercase letters, digits, "-", "_", "."; 1–63 characters, starting with a letter or digit', example: 'db-credentials' });

/** An app id scoping a secret; blank (or null in a body) means "not provided", i.e. org-wide. */
const blankToUndefined = (s: string | null | undefined) => (s == null || s.trim() === '' ? undefined : s.trim());
const bodyAppId = z.string().max(100).nullable().optional().transform(blankToUndefined);
const queryAppId = z.string().max(100).optional().transform(blankToUndefined);

const secretKey = z
  .string()
  .max(SECRET_LIMITS.maxKeyLength)
  .regex(SECRET_KEY)
  // zod already skips a "__proto__" key while parsing records (it cannot be an own property of the output).
  .refine((k) => k !== '__proto__');

const secretValue = z
  .string()
  .max(SECRET_LIMITS.maxValueLength, `values must be at most ${SECRET_LIMITS.maxValueLength} characters`)
  .refine((v) => !v.includes('\0'), 'values must not contain NUL characters (they cannot be environment values)');

const SecretData = z
  .record(secretKey, secretValue, {
    error: (iss) =>
      iss.code === 'invalid_key'
        ? `key ${JSON.stringify(String(iss.input).slice(0, 64))} is not an environment variable name: letters, digits and "_", not starting with a digit, at most ${SECRET_LIMITS.maxKeyLength} characters`
        : undefined,
  })
  .superRefine((data, ctx) => {
    const values = Object.values(data);
    if (values.length === 0) ctx.addIssue({ code: 'custom', message: 'must have at least one key' });
    if (values.length > SECRET_LIMITS.maxKeys) ctx.addIssue({ code: 'custom', message: `must have at most ${SECRET_LIMITS.maxKeys} keys` });
    const total = values.reduce((n, v) => n + v.length, 0);
    if (total > SECRET_LIMITS.maxTotalLength) {
      ctx.addIssue({ code: 'custom', message: `values must total at most ${SECRET_LIMITS.maxTotalLength} characters` });
    }
  })
  .meta({ description: 'Key → value. Keys are env-var names; values are strings, stored only encrypted and never returned.', example: { DATABASE_URL: 'postgres://…', PASSWORD: '…' } });

export const PutSecretInput = z.object({
  name: secretName,
  data: SecretData,
  appId: bodyAppId.meta({ description: "Scope the secret to one app of your org; it then shadows an org-wide secret of the same name for that app. Omit for org-wide." }),
});

/** GET/DELETE /secrets/{name}?appId=: the scope is exact (no fall-back from an app to the org-wide secret). */
export const SecretRefInput = z.object({
  name: secretName,
  appId: queryAppId.meta({ description: 'The app the secret is scoped to; omit for the org-wide secret' }),
});

export const Secret = z
  .object({
    name: z.string(),
    scope: z.enum(['org', 'app']).meta({ description: '`org`: shared by every app of the org; `app`: only for `appId`' }),
    appId: z.string().nullable(),
    keys: z.array(z.string()).meta({ description: 'Key names, sorted. Values are never returned.' }),
    createdAt: z.string().meta({ description: 'ISO 8601' }),
    updatedAt: z.string().meta({ description: 'ISO 8601' }),
  })
  .meta({ id: 'Secret' });

export const SecretList = z
  .object({ secrets: z.array(Secret).meta({ description: 'Sorted by name, org-wide before app-scoped' }) })
  .meta({ id: 'SecretList' });

export type PutSecretInput = z.infer<typeof PutSecretInput>;
export type SecretDto = z.infer<typeof Secret>;
