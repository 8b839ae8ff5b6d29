//! Live states over Server-Sent Events: `GET /counter/visits/{id}/events` sends the visit's
//! applications table again (event `applications`, the HTML htmx's SSE extension swaps in)
//! whenever a core system's answer changes a state. The store is read every two seconds, so
//! an answer taken by any replica shows; a comment line every 30 seconds keeps proxies from
//! closing a quiet stream, and after ten minutes the stream ends (the browser reconnects).

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use futures_util::stream;
use uuid::Uuid;

use super::page::Failure;
use super::session::Signed;
use super::sign::applications_table;
use crate::audit::Action;
use crate::http::state::AppState;
use crate::http::v1::visits::read_visit;

const POLL: Duration = Duration::from_secs(2);
const KEEP_ALIVE_POLLS: u32 = 15;
const LIFETIME_POLLS: u32 = 300;

/// One SSE event: `event: applications` and the HTML, each line as a `data:` line.
fn event(html: &str) -> web::Bytes {
    let mut out = String::from("event: applications\n");
    for line in html.lines() {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    web::Bytes::from(out)
}

struct Live {
    state: web::Data<AppState>,
    visit: Uuid,
    lang: crate::i18n::Lang,
    last: Option<String>,
    polls: u32,
}

/// `GET /counter/visits/{id}/events`.
pub async fn events(
    state: web::Data<AppState>,
    signed: Signed,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, Failure> {
    let id = path.into_inner();
    // The visit must be one this clerk may read (audited once, as the page was).
    read_visit(
        &state,
        signed.session.staff.lg_code,
        &signed.actor,
        id,
        Action::VisitRead,
    )
    .await
    .map_err(|e| signed.api(e))?;
    let live = Live {
        state: state.clone(),
        visit: id,
        lang: signed.lang,
        last: None,
        polls: 0,
    };
    let body = stream::unfold(live, |mut live| async move {
        loop {
            if live.polls >= LIFETIME_POLLS {
                return None;
            }
            if live.polls > 0 {
                tokio::time::sleep(POLL).await;
            }
            live.polls += 1;
            let Ok(list) = live.state.store.applications(live.visit).await else {
                // The database is away: say nothing now, try again at the next poll.
                continue;
            };
            let html = applications_table(&live.state, live.lang, &list).into_string();
            if live.last.as_deref() != Some(html.as_str()) {
                let bytes = event(&html);
                live.last = Some(html);
                return Some((Ok::<_, actix_web::Error>(bytes), live));
            }
            if live.polls.is_multiple_of(KEEP_ALIVE_POLLS) {
                return Some((Ok(web::Bytes::from_static(b": keep-alive\n\n")), live));
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_carries_every_line_as_data() {
        let e = event("<table>\n<tr><td>受理</td></tr>\n</table>");
        assert_eq!(
            std::str::from_utf8(&e).unwrap(),
            "event: applications\ndata: <table>\ndata: <tr><td>受理</td></tr>\ndata: </table>\n\n"
        );
    }
}
