//! OAuth2 client registry, token issuing and bearer-token verification, scopes.

mod client;
mod keys;
mod registry;
mod scope;
mod token;
mod verifier;

pub use client::{Client, ClientError, ClientSecret, NewClient, SecretError, verify_secret};
pub use keys::{KeyError, SIGNING_ALGORITHM, SigningKey};
pub use registry::{register_client, revoke_client};
pub use scope::{Scope, ScopeSet};
pub use token::{ACCESS_TOKEN_TYPE, AccessClaims, IssuedToken, Principal, SignError, TokenIssuer};
pub use verifier::{TokenError, TokenVerifier};
