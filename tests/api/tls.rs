//! TLS with rustls, and client-certificate verification (mTLS) for the card bridge.
//! Transport only: these run on SQLite.

use std::net::SocketAddr;
use std::path::PathBuf;

use madoguchi::config::ClientAuth;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use reqwest::StatusCode;
use tempfile::TempDir;

use crate::helpers::{Backend, TestApp, spawn_app_with};

const HOST: &str = "madoguchi.test";

struct Pki {
    dir: TempDir,
    ca_pem: String,
    server_cert: PathBuf,
    server_key: PathBuf,
    ca_path: PathBuf,
    /// PEM of a client certificate and its key, signed by the CA.
    client_identity: String,
    /// The same from a CA the server does not know.
    stranger_identity: String,
}

pub(crate) fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

pub(crate) fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> String {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, issuer).unwrap();
    format!("{}{}", cert.pem(), key.serialize_pem())
}

/// A core system's PKI in a new directory: `ca.pem`, the server's `server.pem` and
/// `server.key` (for `localhost`), and a client's `client.pem` (certificate and key).
pub(crate) fn core_system_pki() -> TempDir {
    let pki = tempfile::TempDir::new().unwrap();
    let authority = ca("core system test CA");
    let server = leaf(&authority, "localhost", ExtendedKeyUsagePurpose::ServerAuth);
    let (cert, key) = server.split_at(server.find("-----BEGIN PRIVATE KEY-----").unwrap());
    let path = |name: &str| pki.path().join(name);
    std::fs::write(path("server.pem"), cert).unwrap();
    std::fs::write(path("server.key"), key).unwrap();
    std::fs::write(path("ca.pem"), authority.pem()).unwrap();
    std::fs::write(
        path("client.pem"),
        leaf(&authority, "madoguchi", ExtendedKeyUsagePurpose::ClientAuth),
    )
    .unwrap();
    pki
}

fn pki() -> Pki {
    let dir = TempDir::new().unwrap();
    let authority = ca("madoguchi test CA");
    let server = leaf(&authority, HOST, ExtendedKeyUsagePurpose::ServerAuth);
    let (cert_pem, key_pem) = server.split_at(server.find("-----BEGIN PRIVATE KEY-----").unwrap());
    let server_cert = dir.path().join("server.pem");
    let server_key = dir.path().join("server.key");
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&server_cert, cert_pem).unwrap();
    std::fs::write(&server_key, key_pem).unwrap();
    std::fs::write(&ca_path, authority.pem()).unwrap();
    let stranger = ca("someone else's CA");
    Pki {
        ca_pem: authority.pem(),
        client_identity: leaf(
            &authority,
            "counter-pc-01",
            ExtendedKeyUsagePurpose::ClientAuth,
        ),
        stranger_identity: leaf(
            &stranger,
            "counter-pc-99",
            ExtendedKeyUsagePurpose::ClientAuth,
        ),
        server_cert,
        server_key,
        ca_path,
        dir,
    }
}

async fn tls_app(pki: &Pki, mode: ClientAuth) -> TestApp {
    let (cert, key, ca) = (
        pki.server_cert.clone(),
        pki.server_key.clone(),
        pki.ca_path.clone(),
    );
    spawn_app_with(Backend::Sqlite, move |s| {
        s.tls.cert_path = Some(cert);
        s.tls.key_path = Some(key);
        if mode != ClientAuth::None {
            s.tls.client_ca_path = Some(ca);
            s.tls.client_auth = mode;
        }
    })
    .await
}

fn client(pki: &Pki, app: &TestApp, identity: Option<&str>) -> reqwest::Client {
    let addr: SocketAddr = app.address.trim_start_matches("https://").parse().unwrap();
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap()])
        .resolve(HOST, addr);
    if let Some(identity) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

fn url(app: &TestApp, path: &str) -> String {
    let port = app.address.rsplit(':').next().unwrap();
    format!("https://{HOST}:{port}{path}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_https_only() {
    let pki = pki();
    let app = tls_app(&pki, ClientAuth::None).await;
    assert!(app.address.starts_with("https://"));
    let https = client(&pki, &app, None)
        .get(url(&app, "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(https.status(), StatusCode::OK);
    let token = client(&pki, &app, None)
        .post(url(&app, "/oauth/token"))
        .basic_auth(app.demo.client_id, Some(&app.demo.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::OK);

    let plain = reqwest::Client::new()
        .get(app.address.replace("https://", "http://") + "/healthz")
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    drop(pki.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_required_admits_only_certificates_of_the_configured_ca() {
    let pki = pki();
    let app = tls_app(&pki, ClientAuth::Required).await;
    let with_cert = client(&pki, &app, Some(&pki.client_identity))
        .get(url(&app, "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(with_cert.status(), StatusCode::OK);

    let without = client(&pki, &app, None)
        .get(url(&app, "/healthz"))
        .send()
        .await;
    assert!(
        without.is_err(),
        "a connection without a client certificate is refused"
    );

    let stranger = client(&pki, &app, Some(&pki.stranger_identity))
        .get(url(&app, "/healthz"))
        .send()
        .await;
    assert!(stranger.is_err(), "a certificate of another CA is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_optional_admits_both_but_still_checks_presented_certificates() {
    let pki = pki();
    let app = tls_app(&pki, ClientAuth::Optional).await;
    for identity in [None, Some(pki.client_identity.as_str())] {
        let answer = client(&pki, &app, identity)
            .get(url(&app, "/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
    let stranger = client(&pki, &app, Some(&pki.stranger_identity))
        .get(url(&app, "/healthz"))
        .send()
        .await;
    assert!(stranger.is_err());
}
