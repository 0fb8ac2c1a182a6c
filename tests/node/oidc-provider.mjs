// A certified third-party OpenID provider (the npm package `oidc-provider`, pinned to 8.8.1) on
// 127.0.0.1, for logi-tower's interop test (`tests/interop.rs`).
//
//   node oidc-provider.mjs --client-id ID --client-secret SECRET --redirect-uri URL \
//     --post-logout-redirect-uri URL [--port 0] [--access-token-ttl 3600]
//
// stdout is a protocol, one JSON object a line: first `{"issuer": "http://127.0.0.1:PORT"}` once
// listening, then one line per request (`{"event":"request","method","path","status"}`) and per
// provider event the test asserts on. The refresh token's value is printed too: this provider,
// its keys and its tokens live only as long as one test. Diagnostics go to stderr.
//
// Exits when stdin closes (the test ended, however it ended) or on SIGTERM.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
    'post-logout-redirect-uri': { type: 'string' },
    port: { type: 'string', default: '0' },
    'access-token-ttl': { type: 'string', default: '3600' },
  },
});
for (const name of ['client-id', 'client-secret', 'redirect-uri', 'post-logout-redirect-uri']) {
  if (!args[name]) {
    console.error(`oidc-provider.mjs: --${name} is required`);
    process.exit(2);
  }
}

// The one user. `email` and `name` arrive through userinfo: oidc-provider keeps scope-requested
// claims out of ID tokens from the token endpoint (`conformIdTokenClaims`, on by default).
const ACCOUNT = {
  sub: 'interop-user-1',
  email: 'interop@example.com',
  email_verified: true,
  name: 'Interop User',
};

const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

const html = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${html(title)}</title></head>
<body><h1>${html(title)}</h1>${body}</body></html>`;

// The signing key: RSA 2048, RS256, fresh for every run.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'interop-1', alg: 'RS256', use: 'sig' };

const server = createServer();
server.listen(Number(args.port), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: args['client-id'],
        client_secret: args['client-secret'],
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [args['redirect-uri']],
        post_logout_redirect_uris: [args['post-logout-redirect-uri']],
        id_token_signed_response_alg: 'RS256',
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      // `Lax` rather than the default `None` for the long-lived session cookie: browsers drop
      // `SameSite=None` cookies that are not `Secure`, and this provider speaks plain http.
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount: (ctx, sub) => (sub === ACCOUNT.sub
      ? { accountId: sub, claims: () => ACCOUNT }
      : undefined),
    pkce: { methods: ['S256'], required: () => true },
    // A refresh token for every code exchange, without `offline_access`; rotated on every use.
    issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    ttl: {
      AccessToken: Number(args['access-token-ttl']),
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 24 * 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource(ctx, form) {
          ctx.body = page('Sign out', `${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`);
        },
        postLogoutSuccessSource(ctx) {
          ctx.body = page('Signed out', '<p>You are signed out.</p>');
        },
      },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', `<pre>${html(JSON.stringify(out, null, 2))}</pre>`);
    },
  });

  // Every request, for the test to count calls per endpoint.
  provider.use(async (ctx, next) => {
    await next();
    print({ event: 'request', method: ctx.method, path: ctx.path, status: ctx.status });
  });

  // The interaction pages: GET shows a one-button form, POST completes the prompt (`login` as
  // the one account, or `consent` to everything asked for).
  provider.use(async (ctx, next) => {
    const match = /^\/interaction\/([\w-]+)$/.exec(ctx.path);
    if (!match) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { prompt, params, session, grantId } = details;
    if (ctx.method === 'GET') {
      const asks = prompt.name === 'login'
        ? `Sign in as ${ACCOUNT.name}`
        : `Allow ${params.client_id} to read: ${params.scope}`;
      ctx.type = 'html';
      ctx.body = page(prompt.name, `<form method="post" action="/interaction/${html(details.uid)}">
<button type="submit" name="prompt" value="${html(prompt.name)}">${html(asks)}</button></form>`);
      return undefined;
    }
    if (ctx.method !== 'POST') return next();

    let result;
    if (prompt.name === 'login') {
      result = { login: { accountId: ACCOUNT.sub } };
    } else if (prompt.name === 'consent') {
      const grant = grantId
        ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
      if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
      if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      result = { consent: { grantId: await grant.save() } };
    } else {
      ctx.throw(400, `unexpected prompt ${prompt.name}`);
    }
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: false,
    });
    ctx.redirect(returnTo);
    ctx.status = 303;
    return undefined;
  });

  // Provider events the test asserts on.
  provider.on('interaction.started', (ctx, prompt) => print({ event: 'interaction.started', prompt: prompt.name }));
  provider.on('grant.success', (ctx) => print({ event: 'grant.success', grant_type: ctx.oidc.params.grant_type }));
  provider.on('refresh_token.saved', (token) => print({ event: 'refresh_token.saved', token: token.jti, grant_id: token.grantId }));
  provider.on('refresh_token.consumed', (token) => print({ event: 'refresh_token.consumed', token: token.jti }));
  provider.on('refresh_token.destroyed', (token) => print({ event: 'refresh_token.destroyed', token: token.jti }));
  provider.on('grant.revoked', (ctx, grantId) => print({ event: 'grant.revoked', grant_id: grantId, route: ctx.oidc.route }));
  provider.on('end_session.success', () => print({ event: 'end_session.success' }));
  for (const name of ['authorization.error', 'grant.error', 'revocation.error', 'userinfo.error',
    'end_session.error', 'jwks.error', 'discovery.error', 'check_session.error']) {
    provider.on(name, (ctx, err) => print({ event: name, error: err.error, error_description: err.error_description }));
  }
  provider.on('server_error', (ctx, err) => {
    console.error(err);
    print({ event: 'server_error', error: String(err) });
  });

  server.on('request', provider.callback());
  print({ issuer });
});

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
