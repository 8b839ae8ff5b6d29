//! Card benchmark: what the gateway computes per verified card read, on one thread, against
//! the in-process virtual card (no reader, no bridge): the kenhojo read with the PIN (every
//! APDU through the protocol code) and its verification (CVC, EF 0003, both digests, card
//! key, challenge), the kenkaku card face (three-digest rule), and JPKI authentication (chain
//! to the root, signature over the nonce). Run with `cargo bench --bench card`.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;
use madoguchi::card::jpki::{self, NoRevocation};
use madoguchi::card::protocol::{self, Access, Card};
use madoguchi::card::synth::{Issuer, JpkiIssuer, Resident};
use madoguchi::card::trust::Trust;
use madoguchi::card::verify;
use madoguchi::card::virtual_card::VirtualCard;
use rustls_pki_types::SubjectPublicKeyInfoDer;
use rustls_pki_types::pem::PemObject;

const MATCHING_B: &str = "55021720361234";
const NONCE: &[u8] = b"0123456789abcdef0123456789abcdef";

fn spki(issuer: &Issuer) -> Vec<u8> {
    let pem = issuer.ca_public_pem().unwrap_or_default();
    SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
        .map(|d| d.as_ref().to_vec())
        .unwrap_or_default()
}

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
    let trust = Trust::default()
        .with_cvc_key("9000033", spki(&kenhojo))
        .with_cvc_key("9000023", spki(&kenkaku))
        .with_jpki_root(jpki_root.root_der().to_vec());
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
        .block_on(protocol::read_kenkaku(&mut card, MATCHING_B))
        .unwrap_or_else(|e| unreachable!("{e}"));
    let (certificate, signature) = runtime
        .block_on(protocol::authenticate(&mut card, NONCE))
        .unwrap_or_else(|e| unreachable!("{e}"));
    let verify_kenhojo = || verify::kenhojo(&read.files, &trust, Some((NONCE, &read.challenge)));
    let verify_kenkaku = || verify::kenkaku(&face, &trust);
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
    criterion.bench_function("verify kenkaku (CVC, three-digest rule)", |b| {
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
