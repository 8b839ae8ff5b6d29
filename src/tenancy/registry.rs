//! Registering and changing municipalities: shared by the admin API and the CLI.

use super::{LgCode, Municipality, MunicipalityError, MunicipalityPatch, NewMunicipality};
use crate::audit::Actor;
use crate::i18n::Text;
use crate::store::{Store, StoreError};
use crate::validation::FieldError;

pub async fn register_municipality(
    store: &Store,
    lg_code: &str,
    name: &str,
    name_kana: Option<&str>,
    actor: &Actor,
) -> Result<Municipality, MunicipalityError> {
    let new = NewMunicipality::parse(lg_code, name, name_kana)?;
    match store.create_municipality(&new, actor).await {
        Ok(m) => Ok(m),
        Err(StoreError::Conflict) => Err(MunicipalityError::AlreadyExists(new.lg_code)),
        Err(e) => Err(MunicipalityError::Store(e)),
    }
}

pub async fn update_municipality(
    store: &Store,
    lg_code: LgCode,
    patch: MunicipalityPatch,
    actor: &Actor,
) -> Result<Municipality, MunicipalityError> {
    let patch = patch.checked()?;
    if patch.is_empty() {
        return Err(MunicipalityError::Invalid(vec![FieldError::new(
            "",
            "empty_patch",
            Text::new(
                "変更する項目を1つ以上指定してください(name, nameKana, contact)。",
                "Give at least one field to change (name, nameKana, contact).",
            ),
        )]));
    }
    store
        .update_municipality(&lg_code, &patch, actor)
        .await?
        .ok_or(MunicipalityError::NotFound(lg_code))
}
