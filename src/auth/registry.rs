//! Registering and revoking clients: shared by the admin API and the CLI.

use uuid::Uuid;

use super::client::{Client, ClientError, ClientSecret, NewClient};
use crate::audit::Actor;
use crate::i18n::Text;
use crate::store::{Store, StoreError};
use crate::validation::FieldError;

/// What an operator asks to register.
#[derive(Debug, Clone, Copy, Default)]
pub struct Registration<'a> {
    pub name: &'a str,
    pub scopes: &'a [String],
    pub municipalities: &'a [String],
    /// Limits scope `link` to these business areas; `None` for every area.
    pub link_areas: Option<&'a [String]>,
    /// The business areas of the catalogue's vocabulary.
    pub known_areas: &'a [&'a str],
}

/// Checks, generates a secret, stores its hash and the grants, and records the event.
/// Returns the client with its secret, which is never available again.
pub async fn register_client(
    store: &Store,
    registration: Registration<'_>,
    actor: &Actor,
) -> Result<(Client, ClientSecret), ClientError> {
    let new = NewClient::parse(
        registration.name,
        registration.scopes,
        registration.municipalities,
        registration.link_areas,
        registration.known_areas,
    )?;
    let secret = ClientSecret::generate().map_err(|e| ClientError::Internal(e.to_string()))?;
    let hash = secret.hash();
    match store.create_client(&new, &hash, actor).await {
        Ok(client) => Ok((client, secret)),
        Err(StoreError::UnknownMunicipalities(codes)) => Err(ClientError::Invalid(
            codes
                .iter()
                .map(|code| {
                    let index = new
                        .municipalities
                        .iter()
                        .position(|c| c == code)
                        .unwrap_or_default();
                    FieldError::new(
                        format!("/municipalities/{index}"),
                        "unknown_municipality",
                        Text::new(
                            format!(
                                "団体 {code} は登録されていません。先に団体を登録してください。"
                            ),
                            format!("Municipality {code} is not registered; register it first."),
                        ),
                    )
                })
                .collect(),
        )),
        Err(e) => Err(ClientError::Store(e)),
    }
}

pub async fn revoke_client(store: &Store, id: Uuid, actor: &Actor) -> Result<Client, ClientError> {
    store
        .revoke_client(id, actor)
        .await?
        .ok_or(ClientError::NotFound(id))
}
