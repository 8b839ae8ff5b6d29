//! `madoguchi serve`.

use std::process::ExitCode;

use crate::config::Settings;
use crate::startup::{Application, DemoCredentials};

fn demo_hint(base_url: &str, demo: &DemoCredentials) -> String {
    format!(
        "\nFirst start: created the demo municipality 北見市 ({lg}) and a demo client.\n\
         \x20 client_id:     {id}\n\
         \x20 client_secret: {secret}\n\
         The secret is shown only now; keep it. A restart reuses the same data.\n\n\
         Try it:\n\
         \x20 TOKEN=$(curl -s -u '{id}:{secret}' -d grant_type=client_credentials {base}/oauth/token | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n\
         \x20 curl -s -H \"Authorization: Bearer $TOKEN\" {base}/v1/municipalities/{lg}\n\n\
         The counter console: {base}/counter/login?lg={lg}\n\
         \x20 login:    {login}\n\
         \x20 password: {password}\n",
        login = demo.staff_login,
        password = demo.staff_password,
        lg = demo.lg_code,
        id = demo.client_id,
        secret = demo.client_secret,
        base = base_url,
    )
}

/// The banner on stdout in one write. A server whose stdout nobody reads any more (a closed
/// pipe, a supervisor that went away) must go on serving: `println!` would panic on the
/// broken pipe and end the process, so a failed write is only logged.
fn print_banner(banner: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(banner.as_bytes()).and_then(|()| out.flush()) {
        tracing::warn!(error = %e, "the start-up banner could not be written to stdout");
    }
}

/// SIGTERM (Kubernetes, systemd) and SIGINT (Ctrl-C) stop the server gracefully. The
/// handlers are in place before the banner is printed, so a signal right after start-up is
/// never lost.
fn stop_on_signals(handle: actix_web::dev::ServerHandle) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    actix_web::rt::spawn(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "stopping: finishing in-flight requests");
        handle.stop(true).await;
    });
    Ok(())
}

pub async fn run(settings: Settings) -> Result<ExitCode, String> {
    let database = if settings.database.url.as_deref().unwrap_or("").is_empty() {
        format!(
            "sqlite {}",
            settings.data_dir.join("madoguchi.db").display()
        )
    } else {
        "DATABASE_URL".to_owned()
    };
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    stop_on_signals(app.handle()).map_err(|e| format!("cannot listen for signals: {e}"))?;
    let mut banner = format!(
        "madoguchi {} listening on {} ({database}); API docs at {}/docs\n",
        env!("CARGO_PKG_VERSION"),
        app.base_url(),
        app.base_url()
    );
    if let Some(demo) = app.demo_credentials() {
        banner.push_str(&demo_hint(app.base_url(), demo));
        banner.push('\n');
    }
    print_banner(&banner);
    app.run_until_stopped().await.map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
