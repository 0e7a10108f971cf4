import { z } from 'zod';

/** An email address as accounts and invitations store it: trimmed, lowercased. */
export const email = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'must be an email address' }))
  .transform((e) => e.toLowerCase());

// Argon2 input is bounded so a huge password cannot become a CPU denial of service.
const password = z.string().min(8, 'must be at least 8 characters').max(256, 'must be at most 256 characters');

const optionalText = (max: number) =>
  z
    .string()
    .max(max)
    .optional()
    .transform((s) => (s === undefined || s.trim() === '' ? undefined : s.trim()));

export const RegisterInput = z.object({
  email,
  password,
  name: optionalText(100),
  invitation: z.string().min(1).max(200).optional().meta({ description: 'An invitation token for this email: registers even when ALLOW_REGISTRATION=false, and joins its org' }),
});
export const SwitchOrgInput = z.object({ orgId: z.string().min(1).max(64) });
export const LoginInput = z.object({ email, password: z.string().min(1).max(256) });
export const RefreshInput = z.object({ refreshToken: z.string().min(1).max(200) });
export const ChangePasswordInput = z.object({ currentPassword: z.string().min(1).max(256), newPassword: password });

export const User = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    createdAt: z.string().meta({ description: 'ISO 8601' }),
  })
  .meta({ id: 'User' });

export const AuthTokens = z
  .object({
    user: User,
    accessToken: z.string().meta({ description: 'JWT (HS256), valid 15 minutes' }),
    refreshToken: z.string().meta({ description: 'Opaque, valid 30 days, single use' }),
    orgId: z.string(),
    expiresIn: z.number().int().meta({ description: 'Access token lifetime in seconds' }),
  })
  .meta({ id: 'AuthTokens' });

export const Me = z
  .object({ user: User, orgId: z.string().meta({ description: 'The org this session acts in' }), role: z.enum(['owner', 'admin', 'developer', 'viewer']).meta({ description: 'Your role in it' }) })
  .meta({ id: 'Me' });
export const Ok = z.object({ ok: z.literal(true) }).meta({ id: 'Ok' });

export type RegisterInput = z.infer<typeof RegisterInput>;
export type LoginInput = z.infer<typeof LoginInput>;
export type AuthTokens = z.infer<typeof AuthTokens>;
export type UserDto = z.infer<typeof User>;
