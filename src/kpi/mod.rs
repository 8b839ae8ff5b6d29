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

/// Stay-time histogram bins: 5 minutes each, the last open-ended (2 hours and more).
pub const BIN_MINUTES: i64 = 5;
pub const BINS: usize = 24;

/// The counter over a period (a day, a week, a month, a fiscal year): what the dashboard
/// shows. Stay time is from the visit's opening to its submission (滞在時間 as the Digital
/// Agency's guide counts it); visits not submitted have none.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodKpis {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub visits: usize,
    pub submitted: usize,
    pub median_stay_minutes: Option<f64>,
    pub p90_stay_minutes: Option<f64>,
    /// Submitted visits by stay time, in [`BIN_MINUTES`] bins.
    pub histogram: Vec<usize>,
    pub days: Vec<DayRow>,
    /// By business area: the visits that filed at least one procedure of the area.
    pub areas: Vec<GroupKpis>,
    /// By the member of staff who opened the visit (`login@lgCode`, or the client for a
    /// visit a counter app opened).
    pub clerks: Vec<GroupKpis>,
    /// By the counter (窓口) the visit was opened at; an empty key for visits that record none.
    pub counters: Vec<GroupKpis>,
    pub procedures_per_visit: Option<f64>,
    pub forms_prefilled: usize,
    pub fields_prefilled: usize,
    pub fields_typed: usize,
}

/// One day of a period: (day, visits, median stay, 90th percentile stay in minutes).
pub type DayRow = (NaiveDate, usize, Option<f64>, Option<f64>);

/// The KPIs of a part of the period's visits (a business area, a clerk).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupKpis {
    pub key: String,
    pub visits: usize,
    pub submitted: usize,
    pub median_stay_minutes: Option<f64>,
    pub p90_stay_minutes: Option<f64>,
}

/// Groups of fewer submitted visits than this show no stay time: a day's or a clerk's few
/// visits could single out a resident.
pub const SMALL_GROUP: usize = 3;

fn groups<'a>(visits: &[&'a Visit], keys: impl Fn(&'a Visit) -> Vec<String>) -> Vec<GroupKpis> {
    let mut by: std::collections::BTreeMap<String, Vec<&Visit>> = Default::default();
    for v in visits {
        for k in keys(v) {
            by.entry(k).or_default().push(v);
        }
    }
    by.into_iter()
        .map(|(key, vs)| {
            let mut stays: Vec<f64> = vs.iter().filter_map(|v| stay_minutes(v)).collect();
            stays.sort_by(f64::total_cmp);
            let shown = stays.len() >= SMALL_GROUP;
            GroupKpis {
                key,
                visits: vs.len(),
                submitted: stays.len(),
                median_stay_minutes: quantile(&stays, 0.5).filter(|_| shown),
                p90_stay_minutes: quantile(&stays, 0.9).filter(|_| shown),
            }
        })
        .collect()
}

/// The `q`-quantile (0–1) of sorted values, interpolated between neighbours (the method
/// spreadsheets call PERCENTILE.INC).
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

fn stay_minutes(v: &Visit) -> Option<f64> {
    v.household
        .submitted_at
        .map(|s| (s - v.opened_at).num_seconds().max(0) as f64 / 60.0)
}

/// The KPIs of the days `days` (each with its visits).
pub fn period(from: NaiveDate, to: NaiveDate, days: &[(NaiveDate, Vec<Visit>)]) -> PeriodKpis {
    let all: Vec<&Visit> = days.iter().flat_map(|(_, v)| v.iter()).collect();
    let mut stays: Vec<f64> = all.iter().filter_map(|v| stay_minutes(v)).collect();
    stays.sort_by(f64::total_cmp);
    let mut histogram = vec![0; BINS];
    for s in &stays {
        let bin = ((*s / BIN_MINUTES as f64) as usize).min(BINS - 1);
        histogram[bin] += 1;
    }
    let confirmations: Vec<_> = all
        .iter()
        .filter_map(|v| v.household.confirmation.as_ref())
        .collect();
    PeriodKpis {
        from,
        to,
        visits: all.len(),
        submitted: stays.len(),
        median_stay_minutes: quantile(&stays, 0.5),
        p90_stay_minutes: quantile(&stays, 0.9),
        histogram,
        days: days
            .iter()
            .map(|(d, visits)| {
                let mut s: Vec<f64> = visits.iter().filter_map(stay_minutes).collect();
                s.sort_by(f64::total_cmp);
                (*d, visits.len(), quantile(&s, 0.5), quantile(&s, 0.9))
            })
            .collect(),
        areas: groups(&all, |v| {
            let mut areas: Vec<String> = v
                .household
                .confirmation
                .iter()
                .flat_map(|c| c.procedures.iter().map(|p| p.area.clone()))
                .collect();
            areas.sort();
            areas.dedup();
            areas
        }),
        clerks: groups(&all, |v| {
            vec![
                v.opened_by_staff
                    .clone()
                    .or_else(|| v.opened_by_client.clone())
                    .unwrap_or_default(),
            ]
        }),
        counters: groups(&all, |v| vec![v.counter.clone().unwrap_or_default()]),
        procedures_per_visit: (!confirmations.is_empty()).then(|| {
            confirmations
                .iter()
                .map(|c| c.procedures.len() as f64)
                .sum::<f64>()
                / confirmations.len() as f64
        }),
        forms_prefilled: confirmations.iter().map(|c| c.drafts.len()).sum(),
        fields_prefilled: confirmations.iter().map(|c| c.prefilled_fields()).sum(),
        fields_typed: confirmations.iter().map(|c| c.typed_fields()).sum(),
    }
}

#[cfg(test)]
mod period_tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_as_spreadsheets_do() {
        // PERCENTILE.INC({10,20,30,40}, 0.5) = 25; (…, 0.9) = 37.
        let xs = [10.0, 20.0, 30.0, 40.0];
        assert_eq!(quantile(&xs, 0.5), Some(25.0));
        assert!((quantile(&xs, 0.9).unwrap() - 37.0).abs() < 1e-9);
        assert_eq!(quantile(&[5.0], 0.9), Some(5.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
