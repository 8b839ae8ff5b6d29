//! Counter KPIs: stay time, procedures per visit, forms prefilled, fields prefilled against
//! fields typed (handwriting avoided). Per municipality and day from the stored visits, and as
//! Prometheus metrics labelled only by municipality code (no personal data in labels).

use chrono::NaiveDate;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use crate::tenancy::LgCode;
use crate::visits::{Status, Visit};

/// A municipality's day at the counter.
#[derive(Debug, Clone, PartialEq)]
pub struct DayKpis {
    pub day: NaiveDate,
    pub visits: usize,
    pub closed: usize,
    pub confirmed: usize,
    pub submitted: usize,
    /// Of the closed visits.
    pub mean_stay_seconds: Option<f64>,
    pub median_stay_seconds: Option<i64>,
    /// Of the confirmed visits: procedures confirmed.
    pub procedures_per_visit: Option<f64>,
    pub forms_prefilled: usize,
    pub fields_prefilled: usize,
    pub fields_typed: usize,
}

impl DayKpis {
    /// Of every field on the confirmed forms, the share the resident did not write by hand.
    pub fn prefilled_share(&self) -> Option<f64> {
        let all = self.fields_prefilled + self.fields_typed;
        (all > 0).then(|| self.fields_prefilled as f64 / all as f64)
    }
}

pub fn day(day: NaiveDate, visits: &[Visit]) -> DayKpis {
    let mut stays: Vec<i64> = visits
        .iter()
        .filter(|v| v.status == Status::Closed)
        .filter_map(|v| v.closed_at.map(|c| (c - v.opened_at).num_seconds()))
        .collect();
    stays.sort_unstable();
    let confirmations: Vec<_> = visits
        .iter()
        .filter_map(|v| v.household.confirmation.as_ref())
        .collect();
    let mean = |xs: &[f64]| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
    DayKpis {
        day,
        visits: visits.len(),
        closed: visits.iter().filter(|v| v.status == Status::Closed).count(),
        confirmed: confirmations.len(),
        submitted: visits
            .iter()
            .filter(|v| v.household.submitted_at.is_some())
            .count(),
        mean_stay_seconds: mean(&stays.iter().map(|s| *s as f64).collect::<Vec<_>>()),
        median_stay_seconds: stays
            .get(stays.len() / 2)
            .copied()
            .filter(|_| !stays.is_empty()),
        procedures_per_visit: mean(
            &confirmations
                .iter()
                .map(|c| c.procedures.len() as f64)
                .collect::<Vec<_>>(),
        ),
        forms_prefilled: confirmations.iter().map(|c| c.drafts.len()).sum(),
        fields_prefilled: confirmations.iter().map(|c| c.prefilled_fields()).sum(),
        fields_typed: confirmations.iter().map(|c| c.typed_fields()).sum(),
    }
}

/// The visit metrics in the gateway's Prometheus registry.
#[derive(Clone)]
pub struct VisitMetrics {
    opened: IntCounterVec,
    closed: IntCounterVec,
    stay: HistogramVec,
    procedures: HistogramVec,
    forms: IntCounterVec,
    fields_prefilled: IntCounterVec,
    fields_typed: IntCounterVec,
}

impl VisitMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str| -> Result<IntCounterVec, prometheus::Error> {
            let c = IntCounterVec::new(Opts::new(name, help).namespace("madoguchi"), &["lg_code"])?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let histogram = |name: &str,
                         help: &str,
                         buckets: Vec<f64>|
         -> Result<HistogramVec, prometheus::Error> {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help)
                    .namespace("madoguchi")
                    .buckets(buckets),
                &["lg_code"],
            )?;
            registry.register(Box::new(h.clone()))?;
            Ok(h)
        };
        Ok(Self {
            opened: counter("visits_opened_total", "One-stop visits opened")?,
            closed: counter("visits_closed_total", "One-stop visits closed")?,
            stay: histogram(
                "visit_stay_seconds",
                "Stay time of a visit, opened to closed",
                vec![
                    300.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, 5400.0, 7200.0,
                ],
            )?,
            procedures: histogram(
                "visit_procedures",
                "Procedures confirmed per visit",
                vec![1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0],
            )?,
            forms: counter(
                "visit_forms_prefilled_total",
                "Forms prefilled and confirmed",
            )?,
            fields_prefilled: counter(
                "visit_fields_prefilled_total",
                "Fields of confirmed forms filled from the facts (not written by hand)",
            )?,
            fields_typed: counter(
                "visit_fields_typed_total",
                "Fields of confirmed forms typed by the clerk",
            )?,
        })
    }

    pub fn opened(&self, lg: &LgCode) {
        self.opened.with_label_values(&[lg.to_string()]).inc();
    }

    pub fn closed(&self, visit: &Visit) {
        let lg = [visit.lg_code.to_string()];
        self.closed.with_label_values(&lg).inc();
        if let Some(c) = visit.closed_at {
            self.stay
                .with_label_values(&lg)
                .observe((c - visit.opened_at).num_milliseconds() as f64 / 1000.0);
        }
    }

    pub fn confirmed(&self, visit: &Visit) {
        let Some(c) = &visit.household.confirmation else {
            return;
        };
        let lg = [visit.lg_code.to_string()];
        self.procedures
            .with_label_values(&lg)
            .observe(c.procedures.len() as f64);
        self.forms
            .with_label_values(&lg)
            .inc_by(c.drafts.len() as u64);
        self.fields_prefilled
            .with_label_values(&lg)
            .inc_by(c.prefilled_fields() as u64);
        self.fields_typed
            .with_label_values(&lg)
            .inc_by(c.typed_fields() as u64);
    }
}
