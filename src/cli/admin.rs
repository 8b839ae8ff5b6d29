//! `madoguchi migrate`, `clients …` and `municipalities …`.

use std::process::ExitCode;

use serde_json::json;
use uuid::Uuid;

use super::{ClientsCommand, MunicipalitiesCommand, jst, print_json};
use crate::audit::Actor;
use crate::auth;
use crate::config::Settings;
use crate::http::{ClientDto, CreatedClientDto, MunicipalityDto};
use crate::startup::open_store;
use crate::store::Store;
use crate::tenancy;
use crate::validation::FieldError;

/// Every page of a list, for commands that print all of it.
const PAGE: u64 = 100;

pub(super) async fn store(settings: &Settings) -> Result<Store, String> {
    let store = open_store(settings).await.map_err(|e| e.to_string())?;
    let pending = store
        .pending_migrations()
        .await
        .map_err(|e| e.to_string())?;
    if !pending.is_empty() {
        return Err(format!(
            "the database schema is behind ({}); run `madoguchi migrate` first",
            pending.join(", ")
        ));
    }
    Ok(store)
}

fn field_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("  {}: {}", e.pointer, e.message.ja))
        .collect::<Vec<_>>()
        .join("\n")
}

pub async fn migrate(settings: &Settings, as_json: bool) -> Result<ExitCode, String> {
    let store = open_store(settings).await.map_err(|e| e.to_string())?;
    let applied = store.migrate().await.map_err(|e| e.to_string())?;
    if as_json {
        print_json(&json!({ "backend": store.backend(), "applied": applied }))?;
    } else if applied.is_empty() {
        println!("The {} database is up to date.", store.backend());
    } else {
        println!("Applied to the {} database:", store.backend());
        for name in applied {
            println!("  {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_client(c: &ClientDto) {
    println!(
        "{}  {}\n    scopes: {}\n    municipalities: {}{}\n    created: {}{}",
        c.client_id,
        c.name,
        c.scopes.join(" "),
        if c.municipalities.is_empty() {
            "-".to_owned()
        } else {
            c.municipalities.join(" ")
        },
        c.link_areas
            .as_ref()
            .map(|areas| format!("\n    link areas: {}", areas.join(" ")))
            .unwrap_or_default(),
        jst(c.created_at),
        c.revoked_at
            .map(|t| format!("\n    REVOKED: {}", jst(t)))
            .unwrap_or_default(),
    );
}

pub async fn clients(settings: &Settings, command: ClientsCommand) -> Result<ExitCode, String> {
    let store = store(settings).await?;
    let actor = Actor::cli();
    match command {
        ClientsCommand::Create {
            name,
            scopes,
            municipalities,
            link_areas,
            json,
        } => {
            let source = settings.schemas.source();
            let forms = crate::forms::FormRegistry::load(&source).map_err(|e| e.to_string())?;
            let catalog =
                crate::catalog::Catalog::load(&source, &forms).map_err(|e| e.to_string())?;
            let known_areas = catalog.vocabulary.area_ids();
            let (client, secret) = match auth::register_client(
                &store,
                auth::Registration {
                    name: &name,
                    scopes: &scopes,
                    municipalities: &municipalities,
                    link_areas: (!link_areas.is_empty()).then_some(&link_areas[..]),
                    known_areas: &known_areas,
                },
                &actor,
            )
            .await
            {
                Ok(created) => created,
                Err(auth::ClientError::Invalid(errors)) => {
                    return Err(format!(
                        "the client was not registered:\n{}",
                        field_errors(&errors)
                    ));
                }
                Err(e) => return Err(e.to_string()),
            };
            let created = CreatedClientDto {
                client: client.into(),
                client_secret: secret.expose().to_owned(),
            };
            if json {
                print_json(&created)?;
            } else {
                print_client(&created.client);
                println!(
                    "    client_secret: {}\n\nThe secret is shown only now; hand it to the vendor over a safe channel.",
                    created.client_secret
                );
            }
        }
        ClientsCommand::List { json } => {
            let mut all: Vec<ClientDto> = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .list_clients(after, PAGE)
                    .await
                    .map_err(|e| e.to_string())?;
                all.extend(page.items.into_iter().map(ClientDto::from));
                match page.next_after.and_then(|p| Uuid::parse_str(&p).ok()) {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            if json {
                print_json(&all)?;
            } else if all.is_empty() {
                println!("No clients are registered.");
            } else {
                all.iter().for_each(print_client);
            }
        }
        ClientsCommand::Revoke { client_id, json } => {
            let id = Uuid::parse_str(client_id.trim())
                .map_err(|_| format!("{client_id:?} is not a client id (a UUID)"))?;
            let client = auth::revoke_client(&store, id, &actor)
                .await
                .map_err(|e| e.to_string())?;
            let dto = ClientDto::from(client);
            if json {
                print_json(&dto)?;
            } else {
                print_client(&dto);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_municipality(m: &MunicipalityDto) {
    println!(
        "{}  {}{}{}",
        m.lg_code,
        m.prefecture
            .as_ref()
            .map(|p| format!("{} ", p.name))
            .unwrap_or_default(),
        m.name,
        m.name_kana
            .as_ref()
            .map(|k| format!("({k})"))
            .unwrap_or_default(),
    );
}

pub async fn municipalities(
    settings: &Settings,
    command: MunicipalitiesCommand,
) -> Result<ExitCode, String> {
    let store = store(settings).await?;
    match command {
        MunicipalitiesCommand::Create {
            lg_code,
            name,
            name_kana,
            json,
        } => {
            let m = match tenancy::register_municipality(
                &store,
                &lg_code,
                &name,
                name_kana.as_deref(),
                &Actor::cli(),
            )
            .await
            {
                Ok(m) => m,
                Err(tenancy::MunicipalityError::Invalid(errors)) => {
                    return Err(format!(
                        "the municipality was not registered:\n{}",
                        field_errors(&errors)
                    ));
                }
                Err(e) => return Err(e.to_string()),
            };
            let dto = MunicipalityDto::from(m);
            if json {
                print_json(&dto)?;
            } else {
                print_municipality(&dto);
            }
        }
        MunicipalitiesCommand::List { json } => {
            let mut all: Vec<MunicipalityDto> = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = store
                    .list_municipalities(after.as_deref(), PAGE, None)
                    .await
                    .map_err(|e| e.to_string())?;
                all.extend(page.items.into_iter().map(MunicipalityDto::from));
                match page.next_after {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            if json {
                print_json(&all)?;
            } else if all.is_empty() {
                println!("No municipalities are registered.");
            } else {
                all.iter().for_each(print_municipality);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `madoguchi staff …`.
pub async fn staff(settings: &Settings, command: super::StaffCommand) -> Result<ExitCode, String> {
    use crate::http::v1::staff::StaffDto;
    let store = store(settings).await?;
    let actor = Actor::cli();
    let lg = |raw: &str| crate::tenancy::LgCode::parse(raw).map_err(|e| e.to_string());
    match command {
        super::StaffCommand::Create {
            lg_code,
            login,
            name,
            role,
            password_stdin,
            no_password,
            json,
        } => {
            let code = lg(&lg_code)?;
            let password = if no_password {
                None
            } else if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                Some(
                    rpassword::prompt_password("Password (10 to 128 characters): ")
                        .map_err(|e| format!("cannot read the password: {e}"))?,
                )
            };
            let passwords =
                crate::staff::password::Passwords::new(1, std::time::Duration::from_secs(30));
            let account = match crate::staff::service::create(
                &store,
                &passwords,
                code,
                crate::staff::service::NewStaff {
                    login: &login,
                    name: &name,
                    role: &role,
                    password: password.as_deref(),
                },
                &actor,
            )
            .await
            {
                Ok(a) => a,
                Err(crate::staff::service::StaffError::Invalid(errors)) => {
                    return Err(format!(
                        "the account was not created:\n{}",
                        field_errors(&errors)
                    ));
                }
                Err(e) => return Err(format!("the account was not created: {e}")),
            };
            let dto = StaffDto::from(account);
            if json {
                print_json(&dto)?;
            } else {
                println!("{} ({}, {}) created.", dto.staff_id, dto.name, dto.role);
            }
        }
        super::StaffCommand::List { lg_code, json } => {
            let code = lg(&lg_code)?;
            let all: Vec<StaffDto> = store
                .list_staff(code)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(StaffDto::from)
                .collect();
            if json {
                print_json(&all)?;
            } else if all.is_empty() {
                println!("No staff accounts in {code}.");
            } else {
                for s in all {
                    println!("{}\t{}\t{}", s.staff_id, s.role, s.name);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
