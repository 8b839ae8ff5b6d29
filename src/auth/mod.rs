//! OAuth2 client registry, token issuing and bearer-token verification, scopes.

mod authenticate;
mod client;
pub mod es256;
mod keys;
mod lockout;
mod registry;
mod scope;
pub mod secret_hash;
mod token;
mod verifier;

pub use authenticate::{AuthenticationError, authenticate_client};
pub use client::{Client, ClientError, ClientSecret, NewClient, SecretError};
pub use keys::{KeyError, SIGNING_ALGORITHM, SigningKey, open_stored, seal_for_storage};
pub use lockout::{KNOWN_GOOD_FOR, Lockout};
pub use registry::{Registration, register_client, revoke_client};
pub use scope::{Scope, ScopeSet};
pub use token::{ACCESS_TOKEN_TYPE, AccessClaims, IssuedToken, Principal, SignError, TokenIssuer};
pub use verifier::{TokenError, TokenVerifier};
