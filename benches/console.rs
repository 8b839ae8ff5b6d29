//! Console benchmark: what a clerk's page costs the server, and what it weighs.
//!
//! The gateway runs in this process on SQLite in a temporary directory (or on
//! CONSOLE_DATABASE_URL, an empty PostgreSQL database), with the demo municipality and its
//! demo clerk. Through HTTP, as a browser would, the bench logs in, opens a move-in of a
//! six-member household (the most the new-visit form takes), answers every open question the
//! way the console's tests do, and then asks each page of the visit N times in a row (one
//! connection, closed loop: server time plus loopback), printing p50, p99 and the maximum per
//! page. Page weight: the HTML of each page, and the assets a first visit loads (each page
//! names them; a second page loads none of them again: they are cached for a year under
//! their digest).
//!
//! `cargo bench --bench console`. Knobs: CONSOLE_REQUESTS (500 per page), CONSOLE_WORKERS
//! (server workers, 2). Target (issue 26): p99 under 20 ms for the visit page of a six-member
//! household; under 300 KB per page with the assets cached. Writes the table to
//! `target/console-report.md` too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Instant;

use madoguchi::Application;
use madoguchi::config::Settings;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn attr(html: &str, before: &str) -> Option<String> {
    let start = html.find(before)? + before.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// A browser without script: its cookies and the last page's CSRF token.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
    csrf: String,
}

impl Browser {
    fn keep(&mut self, r: &reqwest::Response) {
        for c in r.headers().get_all(SET_COOKIE) {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    fn cookie(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie())
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        if let Some(csrf) = attr(&body, "data-csrf=\"").filter(|c| !c.is_empty()) {
            self.csrf = csrf;
        }
        (status, body)
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> (u16, Option<String>) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone();
        form.push(("csrf", &csrf));
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie())
            .form(&form)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let location = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        (r.status().as_u16(), location)
    }
}

/// Answers the first open question (no to yes/no, the first option, a date, one); false
/// when none is left.
async fn answer_first(b: &mut Browser, visit: &str) -> bool {
    let (_, page) = b.get(&format!("/counter/visits/{visit}/questions")).await;
    let Some(start) = page.find("<form class=\"question\"") else {
        return false;
    };
    let form = &page[start..start + page[start..].find("</form>").unwrap()];
    let field = |name: &str| attr(form, &format!("name=\"{name}\" value=\""));
    let ty = field("type").unwrap();
    let options: Vec<String> = form
        .split("name=\"value\" value=\"")
        .skip(1)
        .map(|r| r[..r.find('"').unwrap()].to_owned())
        .collect();
    let value = match ty.as_str() {
        "boolean" => "false".to_owned(),
        "date" => "S58.4.1".to_owned(),
        "integer" => "1".to_owned(),
        _ => ["otherMunicipality", "nationalHealth", "1"]
            .iter()
            .find(|p| options.iter().any(|o| o == *p))
            .map(|p| (*p).to_owned())
            .or_else(|| options.first().cloned())
            .unwrap_or_else(|| "1".to_owned()),
    };
    let mut fields = vec![
        ("question".to_owned(), field("question").unwrap()),
        ("fact".to_owned(), field("fact").unwrap()),
        ("type".to_owned(), ty),
        ("revision".to_owned(), field("revision").unwrap()),
        ("value".to_owned(), value),
    ];
    for extra in ["member", "event"] {
        if let Some(v) = field(extra).filter(|v| !v.is_empty()) {
            fields.push((extra.to_owned(), v));
        }
    }
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _) = b
        .post(&format!("/counter/visits/{visit}/answers"), &pairs)
        .await;
    status == 303
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let requests: usize = env_or("CONSOLE_REQUESTS", 500);
    let workers: usize = env_or("CONSOLE_WORKERS", 2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let dir = tempfile::TempDir::new().unwrap();
        let mut settings = Settings {
            bind: "127.0.0.1:0".to_owned(),
            data_dir: dir.path().to_path_buf(),
            workers,
            ..Default::default()
        };
        settings.database.url = std::env::var("CONSOLE_DATABASE_URL").ok();
        let backend = if settings.database.url.is_some() {
            "postgresql"
        } else {
            "sqlite"
        };
        let app = Application::build(settings).await.unwrap();
        let base = app.base_url().to_owned();
        let demo = app.demo_credentials().cloned().expect("an empty database");
        tokio::spawn(app.run_until_stopped());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut b = Browser {
            http,
            base,
            cookies: Vec::new(),
            csrf: String::new(),
        };

        // Log in as the demo clerk.
        let (_, login) = b.get("/counter/login?lg=012084").await;
        let token = attr(&login, "name=\"login_token\" value=\"").unwrap();
        let (status, _) = b
            .post(
                "/counter/login",
                &[
                    ("login_token", &token),
                    ("lg_code", "012084"),
                    ("login", &demo.staff_login),
                    ("password", &demo.staff_password),
                    ("next", "/counter"),
                ],
            )
            .await;
        assert_eq!(status, 303, "logged in");
        let (_, today) = b.get("/counter").await;

        // A move-in of six.
        let names = [
            ("山田", "一郎"),
            ("山田", "恵子"),
            ("山田", "茂"),
            ("山田", "幸子"),
            ("山田", "翔太"),
            ("山田", "結菜"),
        ];
        let keys: Vec<(String, String)> = (0..6)
            .map(|i| (format!("member-{i}-family"), format!("member-{i}-given")))
            .collect();
        let mut fields: Vec<(&str, &str)> =
            vec![("kind", "moveIn"), ("date", "R8.12.1"), ("ticket", "B-6")];
        for (i, (family, given)) in names.iter().enumerate() {
            fields.push((&keys[i].0, family));
            fields.push((&keys[i].1, given));
        }
        let (status, location) = b.post("/counter/visits", &fields).await;
        assert_eq!(status, 303, "visit opened");
        let visit = location
            .unwrap()
            .trim_end_matches("/identify")
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let mut answered = 0;
        while answered < 200 && answer_first(&mut b, &visit).await {
            answered += 1;
        }

        // The assets a first page load fetches: each named once, cached for a year after.
        let mut assets = BTreeSet::new();
        for part in today.split("/counter/static/").skip(1) {
            let end = part.find('"').unwrap();
            assets.insert(format!("/counter/static/{}", &part[..end]));
        }
        // And what the style sheets name (the typeface).
        let mut asset_bytes = 0usize;
        let mut queue: Vec<String> = assets.iter().cloned().collect();
        while let Some(a) = queue.pop() {
            let r = b
                .http
                .get(format!("{}{a}", b.base))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{a}");
            let bytes = r.bytes().await.unwrap();
            asset_bytes += bytes.len();
            if a.ends_with(".css") {
                let dir = &a[..a.rfind('/').unwrap()];
                for part in String::from_utf8_lossy(&bytes).split("url(\"").skip(1) {
                    let name = &part[..part.find('"').unwrap()];
                    let url = format!("{dir}/{name}");
                    if assets.insert(url.clone()) {
                        queue.push(url);
                    }
                }
            }
        }

        let pages = [
            ("今日の受付", "/counter".to_owned()),
            ("本人確認", format!("/counter/visits/{visit}/identify")),
            ("世帯の情報", format!("/counter/visits/{visit}/household")),
            ("確認事項", format!("/counter/visits/{visit}/questions")),
            ("必要な手続き", format!("/counter/visits/{visit}/procedures")),
            ("申請書", format!("/counter/visits/{visit}/drafts")),
            ("確認・署名", format!("/counter/visits/{visit}/confirm")),
            ("指標(今月)", "/counter/kpis?period=month".to_owned()),
        ];
        let mut report = String::new();
        writeln!(
            report,
            "Console pages, {backend}, {workers} server workers, {requests} requests per page, one connection; a move-in of six members with {answered} questions answered.\n"
        )
        .unwrap();
        writeln!(
            report,
            "| page | p50 ms | p99 ms | max ms | HTML KB |\n|---|---|---|---|---|"
        )
        .unwrap();
        for (name, path) in &pages {
            // Warm: the first request reads the catalogue version and the forms once.
            let (status, html) = b.get(path).await;
            assert_eq!(status, 200, "{name}: {html}");
            let mut times = Vec::with_capacity(requests);
            for _ in 0..requests {
                let started = Instant::now();
                let (status, _) = b.get(path).await;
                times.push(started.elapsed().as_micros() as u64);
                assert_eq!(status, 200);
            }
            times.sort_unstable();
            writeln!(
                report,
                "| {name} | {:.2} | {:.2} | {:.2} | {:.1} |",
                percentile(&times, 0.5),
                percentile(&times, 0.99),
                *times.last().unwrap() as f64 / 1000.0,
                html.len() as f64 / 1024.0
            )
            .unwrap();
        }
        writeln!(
            report,
            "\nAssets a first page load fetches ({} files, each cached for a year under its digest): {:.1} KB.",
            assets.len(),
            asset_bytes as f64 / 1024.0
        )
        .unwrap();
        print!("{report}");
        let _ = std::fs::write(
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/console-report.md"),
            &report,
        );
    });
}
