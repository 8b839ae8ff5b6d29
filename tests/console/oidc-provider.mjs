// A real OpenID Connect provider for the console's single-sign-on tests: the OpenID-certified
// `oidc-provider` package from npm (installed by the test into target/oidc-node), with its
// development login and consent pages, on loopback. Configured only through the environment:
//   OIDC_PORT            the port to listen on (127.0.0.1)
//   OIDC_CLIENT_SECRET   the console's client secret (client_secret_basic)
//   OIDC_REDIRECT        the console's redirect URL
//   OIDC_ACCOUNTS        JSON: { accountId: { claims… } }; the login typed on the provider's
//                        page is the account id, any password
// Prints "ready <issuer>" on stdout once it listens.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS);

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'madoguchi-console',
    client_secret: process.env.OIDC_CLIENT_SECRET,
    redirect_uris: [process.env.OIDC_REDIRECT],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'madoguchi_role'],
  },
  // The claims a scope grants go into the ID token too (as Entra ID and Keycloak put roles).
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...account };
      },
    };
  },
  cookies: { keys: ['madoguchi-test-only'] },
  features: { devInteractions: { enabled: true } },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
