// A real OpenID Connect provider (panva/oidc-provider, an OpenID-certified implementation) for
// the single sign-on tests: started by tests/oidc/harness.py on loopback.
//
// Configured from the environment:
//   OIDC_PORT            port to listen on
//   OIDC_HOST            address to listen on (default 127.0.0.1)
//   OIDC_ISSUER          the issuer, when the provider is reached through something in front of
//                        it (a tampering proxy in the tests); default http(s)://HOST:PORT
//   OIDC_TLS_CERT/_KEY   PEM files: serve HTTPS (the deployed stack's tests)
//   OIDC_JWKS            JSON private JWK set to sign with (two providers sharing keys, as
//                        tenants of one multi-tenant service do); default the library's own
//   OIDC_ID_TOKEN_TTL    JSON object: client_id -> ID token lifetime in seconds (default 3600)
//   OIDC_CLIENTS         JSON list of oidc-provider client metadata (client_id, client_secret,
//                        redirect_uris, ...)
//   OIDC_USERS           JSON object: username -> {password, claims, acr, amr}; the claims are
//                        what the provider tells the client about the account
// Prints "ready <issuer>" on stdout once it listens.
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const host = process.env.OIDC_HOST || '127.0.0.1';
const tls = process.env.OIDC_TLS_CERT
  ? { cert: fs.readFileSync(process.env.OIDC_TLS_CERT), key: fs.readFileSync(process.env.OIDC_TLS_KEY) }
  : null;
const issuer = process.env.OIDC_ISSUER || `${tls ? 'https' : 'http'}://${host}:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');
const users = JSON.parse(process.env.OIDC_USERS || '{}');
const idTokenTtls = JSON.parse(process.env.OIDC_ID_TOKEN_TTL || '{}');

const configuration = {
  clients,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  acrValues: ['urn:city:loa:1', 'urn:city:loa:mfa'],
  claims: {
    // In the ID token whatever the scope, as Keycloak, Entra ID and LemonLDAP::NG send them.
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    profile: ['preferred_username', 'name', 'roles'],
    email: ['email', 'email_verified'],
  },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  ...(process.env.OIDC_JWKS ? { jwks: JSON.parse(process.env.OIDC_JWKS) } : {}),
  ttl: {
    IdToken: function idTokenTtl(ctx, token, client) {
      return idTokenTtls[client.clientId] || 3600;
    },
  },
  // Staff consent is the city's decision, not each clerk's: grant what the client asks for.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.requestParamScopes ? [...ctx.oidc.requestParamScopes].join(' ') : 'openid');
    await grant.save();
    return grant;
  },
  async findAccount(ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...user.claims }; } };
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, error) => { console.error('server_error', error); });
const callback = provider.callback();

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10000) throw new Error('body too large');
  }
  return new URLSearchParams(body);
}

async function interaction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (req.method === 'POST') {
    const form = await readForm(req);
    const name = form.get('username') || '';
    const user = Object.hasOwn(users, name) ? users[name] : undefined;
    if (user && user.password === form.get('password')) {
      const login = { accountId: name };
      if (user.acr) login.acr = user.acr;
      if (user.amr) login.amr = user.amr;
      await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
      return;
    }
    res.statusCode = 401;
  }
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html lang="en"><head><title>City identity provider</title></head>
<body><h1>City identity provider</h1>
<form method="post" action="/interaction/${escape(uid)}">
<label>User name <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in at the provider</button></form></body></html>`);
}

async function handle(req, res) {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(req.url.split('?')[0]);
  if (!match) {
    callback(req, res);
    return;
  }
  try {
    await interaction(req, res, match[1]);
  } catch (error) {
    console.error('interaction failed', error.message);
    res.statusCode = 400;
    res.end('interaction failed');
  }
}

const server = tls ? https.createServer(tls, handle) : http.createServer(handle);
server.listen(port, host, () => {
  process.stdout.write(`ready ${issuer}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
