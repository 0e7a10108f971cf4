import { z } from 'zod';
import { procedure, router } from '../../trpc/trpc.js';
import { CreateTokenInput, CreateTokenResult, TokenIdInput, TokenList } from './tokens.schema.js';

const tags = ['Tokens'];
const auth = ['missing_bearer_token', 'invalid_or_expired_token', 'forbidden'] as const;

export const tokensRouter = router({
  create: procedure
    .meta({
      openapi: { method: 'POST', path: '/tokens', tags, summary: 'An API token for CI and scripts, acting in this org with your role narrowed by its scopes (and one app with appId); the secret is answered once' },
      successStatus: 201,
      errors: [...auth, 'validation', 'app_not_found'],
      permission: 'account',
      audit: { action: 'token.create', target: 'token' },
    })
    .input(CreateTokenInput)
    .output(CreateTokenResult)
    .mutation(({ ctx, input }) => ctx.services.tokens.create(ctx.auth, input)),

  list: procedure
    .meta({ openapi: { method: 'GET', path: '/tokens', tags, summary: "Your API tokens in this org (owners and admins: everyone's), never their secrets" }, errors: [...auth], permission: 'account' })
    .input(z.void())
    .output(TokenList)
    .query(({ ctx }) => ctx.services.tokens.list(ctx.auth)),

  revoke: procedure
    .meta({
      openapi: { method: 'DELETE', path: '/tokens/{id}', tags, summary: "Revoke an API token (yours; owners and admins: anyone's); refused at once afterwards, its log streams close" },
      successStatus: 204,
      errors: [...auth, 'validation', 'token_not_found'],
      permission: 'account',
      audit: { action: 'token.revoke', target: 'token' },
    })
    .input(TokenIdInput)
    .output(z.void())
    .mutation(({ ctx, input }) => ctx.services.tokens.revoke(ctx.auth, input.id)),
});
