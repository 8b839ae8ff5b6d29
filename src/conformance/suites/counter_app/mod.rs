//! `counter-app`: a counter app, judged by what it sent a gateway (`--har FILE`: a capture of
//! its traffic, HAR 1.2) against the requirements for clients of the contract: who acts,
//! Idempotency-Key on every creating POST and the same key on a retry, tokens reused, waits as
//! Retry-After says, documents that validate.
//!
//! The judge reads a recording, never the network: the same tests will judge what the
//! gateway records in a conformance session.

mod judge;

use crate::conformance::recording::Recorded;
use crate::conformance::requirements::Capability;
use crate::conformance::suite::{Abort, Shared, Suite, Target};

pub static SUITE: Suite = Suite {
    name: "counter-app",
    set: "counter-app",
    target: Target::Recording,
    title_ja: "窓口アプリの適合性(記録した通信)",
    title_en: "Conformance of a counter app (its recorded traffic)",
    tests: &[
        test!(
            "actor.personal-data",
            "個人情報に触れる要求の操作者",
            "The acting clerk on requests that touch personal data",
            judge::actor
        ),
        test!(
            "idempotency.keys",
            "作成する POST の Idempotency-Key",
            "Idempotency-Key on creating POSTs",
            judge::keys
        ),
        test!(
            "idempotency.retries",
            "再送は同じキーと本文で",
            "A retry with the same key and body",
            judge::retries
        ),
        test!(
            "tokens.reuse",
            "トークンの再利用",
            "Tokens reused until near expiry",
            judge::tokens
        ),
        test!(
            "faults.retry-after",
            "Retry-After を待つ",
            "Waiting as Retry-After says",
            judge::retry_after
        ),
        test!(
            "faults.unprocessable",
            "422 のあと同じ要求を送り直さない",
            "No same request again after a 422",
            judge::unprocessable,
            needs = [Capability::InjectedFaults],
            last = false
        ),
        test!(
            "webhooks.verified",
            "Webhook の署名の検証",
            "Webhooks verified before they are trusted",
            judge::webhooks,
            needs = [Capability::InjectedFaults],
            last = false
        ),
        test!(
            "documents.valid",
            "検証に通る文書",
            "Documents that validate",
            judge::documents
        ),
    ],
};

/// The recording the run judges.
fn recording(shared: &Shared) -> Result<&[Recorded], Abort> {
    if shared.recording.is_empty() {
        Err(Abort::Setup("the recording holds no request".to_owned()))
    } else {
        Ok(&shared.recording)
    }
}

fn quoted(found: &[String]) -> String {
    super::quoted(found, "none")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::conformance::exchange::Wire;
    use crate::conformance::suite::{Check, Ctx, Sut};

    fn request(n: u32, at_ms: u64, method: &str, path: &str) -> Recorded {
        Recorded {
            n,
            at_ms,
            method: method.to_owned(),
            path: path.to_owned(),
            idempotency_key: None,
            actor: true,
            token: Some("t1".to_owned()),
            body_sha256: None,
            status: Some(200),
            code: None,
            retry_after: None,
            issued: None,
            injected: false,
            webhook_taken: None,
        }
    }

    fn token(n: u32, at_ms: u64, digest: &str, lifetime: u64) -> Recorded {
        Recorded {
            issued: Some((digest.to_owned(), lifetime)),
            token: None,
            ..request(n, at_ms, "POST", "/oauth/token")
        }
    }

    /// The checks the test `id` makes of `recording`.
    fn judged(id: &str, recording: Vec<Recorded>) -> Vec<Check> {
        let sut = Sut::bare(String::new());
        let wire = Wire::new(
            reqwest::Url::parse("file:///x.har").unwrap(),
            std::time::Duration::from_secs(1),
        )
        .unwrap();
        let mut shared = Shared::new(wire, sut, None);
        shared.recording = recording;
        let test = SUITE.tests.iter().find(|t| t.id == id).unwrap();
        let mut ctx = Ctx::new(test.id, SUITE.set, Arc::new(shared));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on((test.run)(&mut ctx)).unwrap();
        ctx.checks
    }

    #[test]
    fn a_token_fetched_for_each_call_is_found_and_one_refused_may_be_replaced() {
        let visits = "/v1/municipalities/012084/visits";
        let per_call = vec![
            token(1, 0, "t1", 300),
            request(2, 100, "GET", visits),
            token(3, 200, "t2", 300),
            request(4, 300, "GET", visits),
        ];
        let checks = judged("tokens.reuse", per_call);
        assert!(!checks[0].passed, "{checks:?}");
        assert!(checks[0].actual.contains("299 s left"), "{checks:?}");
        let mut refused = request(2, 100, "GET", visits);
        refused.status = Some(401);
        let after_refusal = vec![token(1, 0, "t1", 300), refused, token(3, 200, "t2", 300)];
        assert!(judged("tokens.reuse", after_refusal)[0].passed);
        // Near the end of its life (the last minute), a new one is fine.
        let near = vec![token(1, 0, "t1", 300), token(2, 250_000, "t2", 300)];
        assert!(judged("tokens.reuse", near)[0].passed);
    }

    #[test]
    fn a_retry_after_409_in_progress_must_keep_its_key() {
        let path = "/v1/municipalities/012084/visits/v/submit";
        let mut busy = request(1, 0, "POST", path);
        busy.status = Some(409);
        busy.code = Some("idempotency_in_progress".to_owned());
        busy.idempotency_key = Some("k-1".to_owned());
        let mut again = request(2, 1_000, "POST", path);
        again.idempotency_key = Some("k-2".to_owned());
        let checks = judged("idempotency.retries", vec![busy, again]);
        assert!(!checks[0].passed, "{checks:?}");
        assert!(checks[0].actual.contains("another key"), "{checks:?}");
    }

    #[test]
    fn a_422_sent_again_unchanged_is_found_and_an_injected_one_is_no_invalid_document() {
        let path = "/v1/municipalities/012084/visits/v/drafts/residentRecordCopy@0";
        let mut refused = request(1, 0, "PATCH", path);
        refused.status = Some(422);
        refused.code = Some("validation_failed".to_owned());
        refused.body_sha256 = Some("aaaa".to_owned());
        refused.injected = true;
        let mut same = request(2, 1_000, "PATCH", path);
        same.body_sha256 = Some("aaaa".to_owned());
        let checks = judged("faults.unprocessable", vec![refused.clone(), same.clone()]);
        assert!(!checks[0].passed, "{checks:?}");
        assert!(checks[0].actual.contains("unchanged"), "{checks:?}");
        let mut corrected = same;
        corrected.body_sha256 = Some("bbbb".to_owned());
        let both = vec![refused.clone(), corrected.clone()];
        assert!(judged("faults.unprocessable", both.clone())[0].passed);
        // The injected refusal is not the app's invalid document; a real one is.
        assert!(judged("documents.valid", both)[0].passed);
        refused.injected = false;
        assert!(!judged("documents.valid", vec![refused, corrected])[0].passed);
    }

    #[test]
    fn a_receiver_that_takes_a_forged_webhook_or_refuses_every_one_is_found() {
        let path = "/v1/municipalities/012084/webhooks/w/test";
        let test = |n: u32, forged: bool, taken: bool| Recorded {
            injected: forged,
            webhook_taken: Some(taken),
            ..request(n, u64::from(n) * 1000, "POST", path)
        };
        assert!(
            judged(
                "webhooks.verified",
                vec![test(1, true, false), test(2, false, true)]
            )[0]
            .passed
        );
        let trusting = judged(
            "webhooks.verified",
            vec![test(1, true, true), test(2, false, true)],
        );
        assert!(!trusting[0].passed);
        assert!(trusting[0].actual.contains("wrong secret"), "{trusting:?}");
        let deaf = judged(
            "webhooks.verified",
            vec![test(1, true, false), test(2, false, false)],
        );
        assert!(!deaf[0].passed);
        assert!(deaf[0].actual.contains("correctly signed"), "{deaf:?}");
    }

    #[test]
    fn a_retry_sooner_than_retry_after_is_found() {
        let path = "/v1/municipalities/012084/visits/v/confirm";
        let mut busy = request(1, 0, "POST", path);
        busy.status = Some(429);
        busy.retry_after = Some(5);
        let early = vec![busy.clone(), request(2, 2_000, "POST", path)];
        let checks = judged("faults.retry-after", early);
        assert!(!checks[0].passed);
        assert!(checks[0].actual.contains("2.0 s later"), "{checks:?}");
        let patient = vec![busy, request(2, 5_050, "POST", path)];
        assert!(judged("faults.retry-after", patient)[0].passed);
    }
}
