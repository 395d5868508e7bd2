// A real OpenID Connect provider (panva/oidc-provider, an OpenID-certified implementation) for
// the single sign-on tests: started by tests/integration/counter/oidc_provider.py on loopback.
//
// Configured from the environment:
//   OIDC_PORT            port on 127.0.0.1
//   OIDC_CLIENTS         JSON list of oidc-provider client metadata (client_id, client_secret,
//                        redirect_uris, ...)
//   OIDC_USERS           JSON object: username -> {password, claims, acr, amr}; the claims are
//                        what the provider tells the client about the account
// Prints "ready <issuer>" on stdout once it listens.
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');
const users = JSON.parse(process.env.OIDC_USERS || '{}');

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

const server = http.createServer(async (req, res) => {
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
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
