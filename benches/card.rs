//! Card benchmark: what the gateway computes per verified card read, on one thread, against
//! the in-process virtual card (no reader, no bridge): the kenhojo read with the PIN (every
//! APDU through the protocol code) and its verification (CVC, EF 0003, both digests, card
//! key, challenge), the kenkaku card face (three-digest rule), and JPKI authentication (chain
//! to the root, signature over the nonce); and the gateway's whole side of a session through
//! the bridge protocol to an in-process bridge. Run with `cargo bench --bench card`.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use madoguchi::bridge::Relay;
use madoguchi::bridge::reader::{FixedPin, VirtualReader};
use madoguchi::card::bridge::{Down, Up};
use madoguchi::card::jpki::{self, NoRevocation};
use madoguchi::card::protocol::{self, Access, Card};
use madoguchi::card::session::{self, Purpose, Verifier};
use madoguchi::card::synth::{Issuer, JpkiIssuer, Resident, SYNTH_AUTH_POLICY};
use madoguchi::card::trust::{CvcApplication, Trust};
use madoguchi::card::verify;
use madoguchi::card::virtual_card::VirtualCard;
use madoguchi::devices::Signals;
use madoguchi::devices::sessions::BridgeLink;
use madoguchi::store::Store;

const MATCHING_B: &str = "55021720361234";
const NONCE: &[u8] = b"0123456789abcdef0123456789abcdef";

fn main() {
    let resident = Resident::sample();
    let kenhojo = Issuer::generate("012084").unwrap_or_else(|e| unreachable!("{e}"));
    let kenkaku = Issuer::generate_for("9000023", "012084").unwrap_or_else(|e| unreachable!("{e}"));
    let jpki_root =
        JpkiIssuer::generate("JPKI-TEST-SYNTH Root 9").unwrap_or_else(|e| unreachable!("{e}"));
    let make_card = || {
        let mut card = kenhojo
            .card(&resident)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let expiry = chrono::NaiveDate::from_ymd_opt(2036, 2, 17).unwrap_or_default();
        kenkaku
            .enrol_kenkaku(&mut card, &resident, expiry)
            .unwrap_or_else(|e| unreachable!("{e}"));
        jpki_root
            .enrol(&mut card, 1, (2025, 2035))
            .unwrap_or_else(|e| unreachable!("{e}"));
        VirtualCard::new(card, "1234", MATCHING_B, &resident.my_number)
    };
    let trust = kenhojo
        .trusted_by(Trust::default(), CvcApplication::Kenhojo)
        .and_then(|t| kenkaku.trusted_by(t, CvcApplication::Kenkaku))
        .unwrap_or_else(|e| unreachable!("{e}"))
        .with_jpki_root(jpki_root.root_der().to_vec())
        .with_jpki_policy(SYNTH_AUTH_POLICY);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| unreachable!("{e}"));

    let mut card = Card::new(make_card());
    let read = runtime
        .block_on(protocol::read_kenhojo(
            &mut card,
            &Access::Pin,
            false,
            NONCE,
        ))
        .unwrap_or_else(|e| unreachable!("{e}"));
    let face = runtime
        .block_on(protocol::read_kenkaku(&mut card, MATCHING_B, NONCE))
        .unwrap_or_else(|e| unreachable!("{e}"));
    let (certificate, signature) = runtime
        .block_on(protocol::authenticate(&mut card, NONCE))
        .unwrap_or_else(|e| unreachable!("{e}"));
    let verify_kenhojo = || verify::kenhojo(&read.files, &trust, Some((NONCE, &read.challenge)));
    let verify_kenkaku = || verify::kenkaku(&face.files, &trust, Some((NONCE, &face.challenge)));
    let verify_jpki = || {
        jpki::verify(
            &certificate,
            Some((NONCE, &signature)),
            &trust,
            &NoRevocation,
            SystemTime::now(),
        )
    };
    assert!(verify_kenhojo().passed() && verify_kenkaku().passed());

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    criterion.bench_function(
        "verify kenhojo (CVC, EF 0003, digests, card key, challenge)",
        |b| b.iter(|| black_box(verify_kenhojo())),
    );
    criterion.bench_function("verify kenkaku (CVC, three-digest rule, challenge)", |b| {
        b.iter(|| black_box(verify_kenkaku()))
    });
    criterion.bench_function("verify JPKI (chain, signature over the nonce)", |b| {
        b.iter(|| black_box(verify_jpki()))
    });
    // The protocol side: every APDU of a kenhojo read through the code, the card in-process
    // (its own RSA signature over the nonce included: on a real card that is the card's time).
    let mut reader = Some(card.into_inner());
    criterion.bench_function("kenhojo read over the in-process virtual card", |b| {
        b.iter(|| {
            let Some(mut vc) = reader.take() else {
                return;
            };
            vc.log.clear();
            vc.transmitted.clear();
            let mut card = Card::new(vc);
            let read = runtime.block_on(protocol::read_kenhojo(
                &mut card,
                &Access::Pin,
                false,
                NONCE,
            ));
            black_box(read.is_ok());
            reader = Some(card.into_inner());
        })
    });
    // The gateway's whole side of a readBasicInfo session through the bridge protocol: every
    // command as JSON with hex both ways over channels to an in-process bridge (its relay and
    // allowlist, the PIN built there), the state updates in the store (SQLite in memory), the
    // verification. What is left out is only the network and the reader.
    let bridge_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| unreachable!("{e}"));
    let store = bridge_rt
        .block_on(async {
            let store = Store::connect("sqlite::memory:", 1).await?;
            store.migrate().await?;
            Ok::<_, madoguchi::store::StoreError>(store)
        })
        .unwrap_or_else(|e| unreachable!("{e}"));
    let (down_tx, mut down_rx) = tokio::sync::mpsc::channel::<Down>(16);
    let (up_tx, mut up_rx) = tokio::sync::mpsc::channel::<Up>(16);
    let mut relay = Relay::new(
        VirtualReader {
            card: make_card(),
            present: true,
            pin_pad: None,
        },
        FixedPin("1234".to_owned()),
        false,
    );
    bridge_rt.spawn(async move {
        // As the socket carries them: JSON text both ways.
        while let Some(down) = down_rx.recv().await {
            let text = serde_json::to_string(&down).unwrap_or_default();
            let Ok(down) = serde_json::from_str::<Down>(&text) else {
                continue;
            };
            if let Some(up) = relay.handle(down) {
                let text = serde_json::to_string(&up).unwrap_or_default();
                let Ok(up) = serde_json::from_str::<Up>(&text) else {
                    continue;
                };
                if up_tx.send(up).await.is_err() {
                    break;
                }
            }
        }
    });
    let signals = Signals::default();
    let verifier = Verifier {
        trust: &trust,
        revocation: &NoRevocation,
        now: SystemTime::now(),
        nonce: [7; 32],
    };
    criterion.bench_function(
        "readBasicInfo session through the bridge protocol (JSON, relay, store, checks)",
        |b| {
            b.iter(|| {
                let link = BridgeLink::new(
                    &down_tx,
                    &mut up_rx,
                    &store,
                    &signals,
                    uuid::Uuid::nil(),
                    tokio::time::Instant::now() + Duration::from_secs(10),
                );
                let outcome =
                    bridge_rt.block_on(session::run(Purpose::ReadBasicInfo, None, link, &verifier));
                assert!(outcome.is_ok(), "{outcome:?}");
            })
        },
    );
    criterion.final_summary();

    let mut times: Vec<Duration> = (0..300)
        .map(|_| {
            let start = Instant::now();
            black_box(verify_kenhojo());
            black_box(verify_kenkaku());
            black_box(verify_jpki());
            start.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "verification of one kenhojo read, one card face and one JPKI authentication: p50 {:?}, p99 {:?} over {} runs",
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        times.len()
    );
}
