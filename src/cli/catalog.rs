//! `madoguchi catalog show-overrides` and `set-overrides`: a municipality's changes to the
//! procedure catalogue, from the command line (recorded in the audit log as the operator).

use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;

use super::{CatalogCommand, jst, print_json};
use crate::audit::Actor;
use crate::catalog::Catalog;
use crate::catalog::overrides::Overrides;
use crate::catalog::versions::{CatalogError, Catalogs};
use crate::config::Settings;
use crate::forms::FormRegistry;
use crate::tenancy::LgCode;

pub async fn run(settings: &Settings, command: CatalogCommand) -> Result<ExitCode, String> {
    let source = settings.schemas.source();
    let forms = Arc::new(FormRegistry::load(&source).map_err(|e| e.to_string())?);
    let base = Arc::new(Catalog::load(&source, &forms).map_err(|e| e.to_string())?);
    if let CatalogCommand::Report { lg_code: None } = command {
        print!(
            "{}",
            crate::catalog::report::markdown(&base, "手続一覧(標準)")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let store = super::admin::store(settings).await?;
    let catalogs = Catalogs::new(base, forms, store.clone());
    let code = |raw: &str| LgCode::parse(raw).map_err(|e| format!("{raw}: {e}"));
    match command {
        CatalogCommand::ShowOverrides { lg_code, json } => {
            let code = code(&lg_code)?;
            let stored = store
                .catalog_overrides(&code, None)
                .await
                .map_err(|e| e.to_string())?;
            let (version, document, at) = match stored {
                None => (0, json!({"procedures": {}, "local": []}), None),
                Some(s) => (
                    s.version,
                    serde_json::from_str(&s.document).map_err(|e| e.to_string())?,
                    Some(s.created_at),
                ),
            };
            if json {
                print_json(&json!({
                    "lgCode": code.to_string(),
                    "version": version,
                    "catalogVersion": catalogs.label(version),
                    "createdAt": at,
                    "overrides": document,
                }))?;
            } else {
                println!(
                    "{code}: version {version} ({}){}",
                    catalogs.label(version),
                    at.map(|t| format!(", saved {}", jst(t)))
                        .unwrap_or_default()
                );
                println!(
                    "{}",
                    serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?
                );
            }
        }
        CatalogCommand::SetOverrides {
            lg_code,
            file,
            json,
        } => {
            let code = code(&lg_code)?;
            if store
                .municipality(&code)
                .await
                .map_err(|e| e.to_string())?
                .is_none()
            {
                return Err(format!("municipality {code} is not registered"));
            }
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let overrides: Overrides = serde_json::from_str(&text)
                .map_err(|e| format!("{}: not valid overrides: {e}", file.display()))?;
            let (version, _) = catalogs
                .save(&code, &overrides, &Actor::cli())
                .await
                .map_err(|e| match e {
                    CatalogError::Invalid(errors) => format!(
                        "{}: nothing was stored:\n{}",
                        file.display(),
                        errors
                            .iter()
                            .map(|e| format!("  {}: {}", e.pointer, e.message))
                            .collect::<Vec<_>>()
                            .join("\n")
                    ),
                    e => e.to_string(),
                })?;
            if json {
                print_json(&json!({
                    "lgCode": code.to_string(),
                    "version": version,
                    "catalogVersion": catalogs.label(version),
                }))?;
            } else {
                println!(
                    "{code}: catalogue version {version} ({}) is in force for visits opened from now on",
                    catalogs.label(version)
                );
            }
        }
        CatalogCommand::Report { lg_code } => {
            let code = code(lg_code.as_deref().unwrap_or_default())?;
            let (version, catalog) = catalogs.current(&code).await.map_err(|e| e.to_string())?;
            let title = format!("手続一覧({code}、版 {})", catalogs.label(version));
            print!("{}", crate::catalog::report::markdown(&catalog, &title));
        }
    }
    Ok(ExitCode::SUCCESS)
}
