//! OAuth2 clients: one per vendor application, with the scopes and municipalities it may act
//! for, and a secret stored only as a hash (see [`super::secret_hash`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::scope::{Scope, ScopeSet};
use crate::i18n::Text;
use crate::tenancy::LgCode;
use crate::validation::{FieldError, FieldErrors};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: Uuid,
    pub name: String,
    pub scopes: ScopeSet,
    pub municipalities: Vec<LgCode>,
    /// The business areas scope `link` is limited to; `None` for every area.
    pub link_areas: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Client {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// A client to register, already checked.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub scopes: ScopeSet,
    pub municipalities: Vec<LgCode>,
    /// The business areas scope `link` is limited to; `None` for every area.
    pub link_areas: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("client {0} does not exist")]
    NotFound(Uuid),
    #[error("invalid client data")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Internal(String),
}

impl NewClient {
    /// Checks a registration; every problem is reported at once.
    ///
    /// `link_areas` limits scope `link` to some business areas, each one of `known_areas`.
    pub fn parse(
        name: &str,
        scopes: &[String],
        municipalities: &[String],
        link_areas: Option<&[String]>,
        known_areas: &[&str],
    ) -> Result<Self, ClientError> {
        let mut errors = FieldErrors::default();
        let name = errors.text("/name", &Text::new("クライアント名", "name"), name, 100);
        let mut parsed_scopes = Vec::new();
        for (i, s) in scopes.iter().enumerate() {
            match Scope::parse(s) {
                Some(scope) => parsed_scopes.push(scope),
                None => errors.push(FieldError::new(
                    format!("/scopes/{i}"),
                    "unknown_scope",
                    Text::new(
                        format!(
                            "スコープ「{s}」はありません。使えるスコープ: {}",
                            known_scopes()
                        ),
                        format!("there is no scope {s:?}; known scopes: {}", known_scopes()),
                    ),
                )),
            }
        }
        if scopes.is_empty() {
            errors.push(FieldError::new(
                "/scopes",
                "required",
                Text::new(
                    format!("スコープを1つ以上指定してください: {}", known_scopes()),
                    format!("give at least one scope: {}", known_scopes()),
                ),
            ));
        }
        let mut codes = Vec::new();
        for (i, m) in municipalities.iter().enumerate() {
            match LgCode::parse(m) {
                Ok(code) => codes.push(code),
                Err(e) => {
                    let text = e.text();
                    errors.push(FieldError::new(
                        format!("/municipalities/{i}"),
                        "invalid_lg_code",
                        text,
                    ));
                }
            }
        }
        codes.sort();
        codes.dedup();
        let scopes = ScopeSet::new(parsed_scopes);
        // Scopes about no municipality in particular: the admin API, conformance sessions
        // (each of which makes a sandbox municipality of its own).
        let no_municipality = scopes
            .iter()
            .all(|s| matches!(s, Scope::Admin | Scope::Conformance));
        if codes.is_empty() && !scopes.is_empty() && !no_municipality {
            errors.push(FieldError::new(
                "/municipalities",
                "required",
                Text::new(
                    "このクライアントが代理する団体の全国地方公共団体コードを1つ以上指定してください。",
                    "give at least one municipality (lgCode) the client acts for.",
                ),
            ));
        }
        let link_areas = link_areas.map(|areas| {
            let mut kept: Vec<String> = Vec::new();
            for (i, area) in areas.iter().enumerate() {
                if !known_areas.contains(&area.as_str()) {
                    errors.push(FieldError::new(
                        format!("/linkAreas/{i}"),
                        "unknown_area",
                        Text::new(
                            format!("業務「{area}」はありません({})。", known_areas.join(", ")),
                            format!(
                                "there is no business area {area:?} ({})",
                                known_areas.join(", ")
                            ),
                        ),
                    ));
                } else if !kept.contains(area) {
                    kept.push(area.clone());
                }
            }
            kept.sort();
            kept
        });
        if let Some(areas) = &link_areas {
            if !scopes.contains(Scope::Link) {
                errors.push(FieldError::new(
                    "/linkAreas",
                    "link_areas_without_link",
                    Text::new(
                        "linkAreas は link スコープのクライアントにだけ指定できます。",
                        "linkAreas is only for clients with scope link.",
                    ),
                ));
            } else if areas.is_empty() && errors.is_empty() {
                errors.push(FieldError::new(
                    "/linkAreas",
                    "required",
                    Text::new(
                        "linkAreas には業務を1つ以上指定してください(全業務なら linkAreas を省きます)。",
                        "give at least one business area in linkAreas (leave it out for every area).",
                    ),
                ));
            }
        }
        errors.into_result().map_err(ClientError::Invalid)?;
        Ok(Self {
            name,
            scopes,
            municipalities: codes,
            link_areas,
        })
    }
}

fn known_scopes() -> String {
    ScopeSet::new(Scope::ALL).to_string()
}

/// A client secret in clear text: exists only between generation and the one response (or
/// CLI output) that shows it.
pub struct ClientSecret(String);

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(***)")
    }
}

/// Prefix that lets secret scanners recognise a leaked madoguchi secret.
const SECRET_PREFIX: &str = "mdgs_";

#[derive(Debug, thiserror::Error)]
#[error("could not hash or generate a client secret: {0}")]
pub struct SecretError(String);

impl ClientSecret {
    /// 256 random bits from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|e| SecretError(e.to_string()))?;
        Ok(Self(format!(
            "{SECRET_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(bytes)
        )))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database keeps instead of the secret.
    pub fn hash(&self) -> String {
        super::secret_hash::hash(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_and_never_printed() {
        let secret = ClientSecret::generate().unwrap();
        assert!(secret.expose().starts_with("mdgs_"));
        assert_eq!(secret.expose().len(), 5 + 43);
        assert_ne!(secret.expose(), ClientSecret::generate().unwrap().expose());
        assert!(!format!("{secret:?}").contains("mdgs_"));
        assert!(!secret.hash().contains(secret.expose()));
    }

    #[test]
    fn registration_reports_every_problem() {
        let err = NewClient::parse(
            "",
            &["admin".into(), "forms:write".into()],
            &["012085".into()],
            None,
            &[],
        )
        .unwrap_err();
        let ClientError::Invalid(errors) = err else {
            panic!("expected invalid")
        };
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/name", "/scopes/1", "/municipalities/0"]);
    }

    #[test]
    fn vendor_clients_need_a_municipality_but_admin_clients_do_not() {
        assert!(NewClient::parse("ops", &["admin".into()], &[], None, &[]).is_ok());
        assert!(
            NewClient::parse("vendor", &["municipalities:read".into()], &[], None, &[]).is_err()
        );
    }

    #[test]
    fn link_areas_are_known_areas_of_a_link_client() {
        let known = ["certificates", "nationalHealthInsurance"];
        let link = |scopes: &[&str], areas: &[&str]| {
            let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
            let areas: Vec<String> = areas.iter().map(|s| s.to_string()).collect();
            NewClient::parse("core", &scopes, &["012084".into()], Some(&areas), &known)
        };
        let ok = link(
            &["link"],
            &["nationalHealthInsurance", "certificates", "certificates"],
        );
        assert_eq!(
            ok.unwrap().link_areas,
            Some(vec![
                "certificates".to_owned(),
                "nationalHealthInsurance".to_owned()
            ])
        );
        let codes = |r: Result<NewClient, ClientError>| match r {
            Err(ClientError::Invalid(errors)) => errors
                .iter()
                .map(|e| (e.pointer.clone(), e.code))
                .collect::<Vec<_>>(),
            other => panic!("expected invalid, got {other:?}"),
        };
        assert_eq!(
            codes(link(&["link"], &["taxes"])),
            [("/linkAreas/0".to_owned(), "unknown_area")]
        );
        assert_eq!(
            codes(link(&["forms"], &["certificates"])),
            [("/linkAreas".to_owned(), "link_areas_without_link")]
        );
        assert_eq!(
            codes(link(&["link"], &[])),
            [("/linkAreas".to_owned(), "required")]
        );
    }
}
