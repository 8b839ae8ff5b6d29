//! `gateway-api`: any implementation of the gateway's contract, ours included.

mod auth;
mod contract;
mod forms;
mod idempotency;
mod pagination;
mod problems;
mod pull;
mod tenancy;
mod visits;
mod webhooks;

use crate::conformance::requirements::Capability;
use crate::conformance::suite::{Suite, Target};

const ISOLATED: Capability = Capability::SecondMunicipality;

pub static SUITE: Suite = Suite {
    name: "gateway-api",
    set: "gateway-api",
    target: Target::Gateway,
    title_ja: "ゲートウェイ API の適合性",
    title_en: "Conformance of a gateway API",
    tests: &[
        test!(
            "auth.client-secret-basic",
            "Basic 認証でトークン",
            "A token with client_secret_basic",
            auth::client_secret_basic
        ),
        test!(
            "auth.client-secret-post",
            "フォーム本文の認証でトークン",
            "A token with client_secret_post",
            auth::client_secret_post
        ),
        test!(
            "auth.wrong-secret",
            "誤ったシークレットの拒否",
            "A wrong secret refused",
            auth::wrong_secret
        ),
        test!(
            "auth.unsupported-grant",
            "未対応のグラント種別の拒否",
            "An unsupported grant type refused",
            auth::unsupported_grant
        ),
        test!(
            "auth.scope-narrowing",
            "scope を絞ったトークン",
            "A token narrowed by scope",
            auth::scope_narrowing
        ),
        test!(
            "auth.missing-token",
            "トークンのない要求の拒否",
            "A request without a token refused",
            auth::missing_token
        ),
        test!(
            "auth.forged-token",
            "偽造トークンの拒否",
            "A forged token refused",
            auth::forged_token
        ),
        test!(
            "auth.alg-none",
            "署名のないトークンの拒否",
            "An unsigned token refused",
            auth::alg_none
        ),
        test!(
            "auth.tampered-claims",
            "書き換えたトークンの拒否",
            "An edited token refused",
            auth::tampered_claims
        ),
        test!(
            "auth.signature-malleability",
            "署名の s を裏返したトークンの拒否",
            "A token with a mirrored signature refused",
            auth::signature_malleability
        ),
        test!(
            "auth.jwks",
            "公開鍵の公開",
            "The public keys published",
            auth::jwks
        ),
        test!(
            "problems.unknown-route",
            "存在しない経路の problem",
            "The problem for an unknown route",
            problems::unknown_route
        ),
        test!(
            "problems.malformed-json",
            "形式の誤った JSON",
            "Malformed JSON",
            problems::malformed_json
        ),
        test!(
            "problems.languages",
            "日本語と英語のメッセージ",
            "Japanese and English messages",
            problems::languages
        ),
        test!(
            "tenancy.foreign-municipality",
            "別の自治体の経路の拒否",
            "Another municipality's routes refused",
            tenancy::foreign_municipality,
            needs = [ISOLATED],
            last = false
        ),
        test!(
            "tenancy.list-own",
            "自分の自治体だけの一覧",
            "Only one's own municipalities listed",
            tenancy::list_own,
            needs = [ISOLATED],
            last = false
        ),
        test!(
            "tenancy.foreign-visit-id",
            "別の自治体の来庁 ID",
            "Another municipality's visit id",
            tenancy::foreign_visit_id,
            needs = [ISOLATED],
            last = false
        ),
        test!(
            "tenancy.check-digit",
            "lgCode の検査数字",
            "The lgCode's check digit",
            tenancy::check_digit
        ),
        test!(
            "forms.examples-valid",
            "様式の例の検証",
            "The forms' examples validate",
            forms::examples_valid
        ),
        test!(
            "forms.specimens-invalid",
            "不正な標本の誤り",
            "The invalid specimens' errors",
            forms::specimens_invalid
        ),
        test!(
            "forms.normalization",
            "入力どおりの値の正規化",
            "Values as typed normalized",
            forms::normalization
        ),
        test!(
            "idempotency.replay",
            "同じキーの再送",
            "A retry with the same key",
            idempotency::replay
        ),
        test!(
            "idempotency.other-body",
            "同じキーで別の本文",
            "The same key with another body",
            idempotency::other_body
        ),
        test!(
            "idempotency.concurrent",
            "同じキーの同時の要求",
            "Concurrent requests with one key",
            idempotency::concurrent
        ),
        test!(
            "pagination.walk",
            "カーソルで一覧をたどる",
            "Walking a list by cursor",
            pagination::walk
        ),
        test!(
            "pagination.bad-input",
            "不正なカーソルと limit",
            "A bad cursor and limit",
            pagination::bad_input
        ),
        test!(
            "visits.scenarios",
            "来庁のシナリオの判定",
            "The visit scenarios' determinations",
            visits::scenarios
        ),
        test!(
            "visits.full-flow",
            "来庁の最初から申請まで",
            "A visit from opening to its applications",
            visits::full_flow
        ),
        test!(
            "webhooks.signed",
            "Standard Webhooks の署名",
            "Webhooks signed as Standard Webhooks",
            webhooks::signed,
            needs = [Capability::Webhooks],
            last = false
        ),
        test!(
            "pull.feed",
            "取得連携の一覧と回答",
            "The pull feed and its answers",
            pull::feed,
            needs = [Capability::PullLink],
            last = false
        ),
        test!(
            "problems.codes",
            "実行中のすべての code と X-Request-Id",
            "Every code and X-Request-Id of the run",
            problems::codes,
            needs = [],
            last = true
        ),
        test!(
            "contract.responses",
            "実行中のすべての応答の形",
            "The shape of every answer of the run",
            contract::responses,
            needs = [],
            last = true
        ),
    ],
};
