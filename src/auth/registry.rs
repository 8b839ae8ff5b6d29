//! Registering and revoking clients: shared by the admin API and the CLI.

use uuid::Uuid;

use super::client::{Client, ClientError, ClientSecret, NewClient};
use crate::audit::Actor;
use crate::i18n::Text;
use crate::store::{Store, StoreError};
use crate::validation::FieldError;

/// Checks, generates a secret, stores its hash and the grants, and records the event.
/// Returns the client with its secret, which is never available again.
pub async fn register_client(
    store: &Store,
    name: &str,
    scopes: &[String],
    municipalities: &[String],
    actor: &Actor,
) -> Result<(Client, ClientSecret), ClientError> {
    let new = NewClient::parse(name, scopes, municipalities)?;
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
