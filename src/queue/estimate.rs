//! How long a waiting ticket is likely to wait, explainable in one sentence: the queue-length
//! estimator (`counter-day.md` §1, "the standard estimator used in practice"): the people
//! ahead plus one, times the mean time between service completions, which with `c` open
//! counters of mean service time `m` is about `m / c`. `m` is the mean of the category's
//! last [`WINDOW`] completed services; with fewer than [`MIN_SAMPLES`] the minutes are
//! withheld and only the people ahead are shown. The range is the estimate plus the median
//! and the 90th percentile of its own past errors (actual − estimated), so it widens or
//! narrows with how the day really goes.

use crate::i18n::Text;

/// Completed services a category's mean is taken over.
pub const WINDOW: usize = 10;
/// Completed services needed before minutes are shown.
pub const MIN_SAMPLES: usize = 3;
/// Past errors needed before the range is taken from them.
pub const MIN_ERRORS: usize = 10;

/// What a waiting resident is told.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// People ahead in the same queue: exact.
    pub ahead: usize,
    /// The point estimate in minutes; none when withheld.
    pub minutes: Option<f64>,
    /// The range shown (目安), in whole minutes.
    pub range: Option<(u32, u32)>,
    /// The one sentence that explains it.
    pub why: Text,
}

/// The mean of the last [`WINDOW`] of `services` (minutes, oldest first); none with fewer than
/// [`MIN_SAMPLES`].
pub fn mean_service(services: &[f64]) -> Option<f64> {
    let recent = &services[services.len().saturating_sub(WINDOW)..];
    (recent.len() >= MIN_SAMPLES).then(|| recent.iter().sum::<f64>() / recent.len() as f64)
}

/// The estimate for a ticket with `ahead` people before it, given the category's recent
/// completed services (minutes, oldest first), the counters open for it, and the errors of
/// past estimates (actual − estimated minutes).
pub fn estimate(ahead: usize, services: &[f64], counters_open: usize, errors: &[f64]) -> Estimate {
    let Some(m) = mean_service(services).filter(|_| counters_open > 0) else {
        let why = if counters_open == 0 {
            Text::new(
                format!(
                    "前に{ahead}人。この区分の窓口が開いていないため、待ち時間の目安は出せません。"
                ),
                format!(
                    "{ahead} ahead. No counter is open for this category, so there is no estimate."
                ),
            )
        } else {
            Text::new(
                format!("前に{ahead}人。応対の記録がまだ少ないため、待ち時間の目安は出せません。"),
                format!("{ahead} ahead. Too few services recorded yet for an estimate."),
            )
        };
        return Estimate {
            ahead,
            minutes: None,
            range: None,
            why,
        };
    };
    let point = (ahead + 1) as f64 * m / counters_open as f64;
    let (low, high) = if errors.len() >= MIN_ERRORS {
        let mut sorted = errors.to_vec();
        sorted.sort_by(f64::total_cmp);
        let q = |p: f64| crate::kpi::quantile(&sorted, p).unwrap_or(0.0);
        let low = (point + q(0.5)).max(0.0);
        (low, (point + q(0.9)).max(low))
    } else {
        (point, point * 1.5)
    };
    let range = (low.round() as u32, high.round().max(low.round()) as u32);
    let n = services.len().min(WINDOW);
    Estimate {
        ahead,
        minutes: Some(point),
        range: Some(range),
        why: Text::new(
            format!(
                "前に{ahead}人、この区分の最近{n}件の平均応対時間{:.0}分、開いている窓口{counters_open}か所から、目安は{}〜{}分です。",
                m, range.0, range.1
            ),
            format!(
                "{ahead} ahead, {:.0} minutes per service over the last {n}, {counters_open} counters open: about {} to {} minutes.",
                m, range.0, range.1
            ),
        ),
    }
}

/// How estimates compared with the waits that followed.
#[derive(Debug, Clone, PartialEq)]
pub struct Accuracy {
    pub tickets: usize,
    /// Mean absolute error, minutes.
    pub mae: f64,
    /// Mean signed error (actual − estimated): positive means residents waited longer than told.
    pub bias: f64,
    pub rmse: f64,
    /// Share of tickets whose wait was within 5 minutes of the estimate.
    pub within_5: f64,
    /// Share of tickets whose wait did not pass the upper end of the range shown.
    pub coverage: f64,
}

/// The accuracy of `(estimated minutes, upper end shown, actual wait)` triples.
pub fn accuracy(shown: &[(f64, f64, f64)]) -> Option<Accuracy> {
    if shown.is_empty() {
        return None;
    }
    let n = shown.len() as f64;
    let err = |(e, _, a): &(f64, f64, f64)| a - e;
    Some(Accuracy {
        tickets: shown.len(),
        mae: shown.iter().map(|s| err(s).abs()).sum::<f64>() / n,
        bias: shown.iter().map(err).sum::<f64>() / n,
        rmse: (shown.iter().map(|s| err(s).powi(2)).sum::<f64>() / n).sqrt(),
        within_5: shown.iter().filter(|s| err(s).abs() <= 5.0).count() as f64 / n,
        coverage: shown.iter().filter(|(_, h, a)| a <= h).count() as f64 / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn the_estimate_is_withheld_until_services_are_known_and_explained_after() {
        let e = estimate(4, &[6.0, 8.0], 2, &[]);
        assert_eq!((e.ahead, e.minutes, e.range), (4, None, None));
        assert!(e.why.ja.contains("前に4人"), "{}", e.why.ja);
        let e = estimate(4, &[6.0, 8.0, 10.0], 0, &[]);
        assert!(e.why.ja.contains("窓口が開いていない"), "{}", e.why.ja);
        // (4 + 1) × 8 / 2 = 20 minutes; no error history yet: 20 to 30.
        let e = estimate(4, &[6.0, 8.0, 10.0], 2, &[]);
        assert_eq!(e.minutes, Some(20.0));
        assert_eq!(e.range, Some((20, 30)));
        assert!(e.why.ja.contains("目安は20〜30分"), "{}", e.why.ja);
        // Past waits ran 0 to 9 minutes longer than estimated: the range moves up.
        let errors: Vec<f64> = (0..10).map(f64::from).collect();
        let e = estimate(4, &[6.0, 8.0, 10.0], 2, &errors);
        assert_eq!(e.range, Some((25, 28)));
        // Only the last WINDOW services count.
        let mut services = vec![60.0; 5];
        services.extend([5.0; WINDOW]);
        assert_eq!(mean_service(&services), Some(5.0));
    }

    /// A simulated day: 200 tickets over 3 counters between 8:30 and 17:15, services of 2 to
    /// 12 minutes, one in twenty a no-show (the counter waits 2 minutes, then calls the next),
    /// first come first served. Each ticket is given the estimate the gateway could have
    /// made at its issue (only services finished and waits known by then), then compared with
    /// its real wait. The figures are printed (`cargo test --lib simulated_day -- --nocapture`);
    /// the test holds what must hold whatever the day: an estimate for every ticket once a
    /// few services are known, and figures that are figures.
    #[test]
    fn a_simulated_day_measures_the_estimate_against_real_waits() {
        let mut rng = StdRng::seed_from_u64(20261207);
        let n = 200;
        let day = 525.0;
        let mut arrivals: Vec<f64> = (0..n).map(|_| rng.random_range(0.0..day)).collect();
        arrivals.sort_by(f64::total_cmp);
        let service: Vec<f64> = (0..n).map(|_| rng.random_range(2.0..12.0)).collect();
        let no_show: Vec<bool> = (0..n).map(|_| rng.random_range(0..20) == 0).collect();
        let mut free = [0.0f64; 3];
        let (mut called, mut ended) = (vec![0.0; n], vec![0.0; n]);
        for i in 0..n {
            let (k, _) = free
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .unwrap();
            called[i] = arrivals[i].max(free[k]);
            ended[i] = called[i] + if no_show[i] { 2.0 } else { service[i] };
            free[k] = ended[i];
        }
        let mut estimates: Vec<Option<(f64, f64)>> = vec![None; n];
        let mut shown = Vec::new();
        for i in 0..n {
            let now = arrivals[i];
            let ahead = (0..i).filter(|&j| called[j] > now).count();
            let mut done: Vec<(f64, f64)> = (0..i)
                .filter(|&j| !no_show[j] && ended[j] <= now)
                .map(|j| (ended[j], service[j]))
                .collect();
            done.sort_by(|a, b| a.0.total_cmp(&b.0));
            let services: Vec<f64> = done.into_iter().map(|d| d.1).collect();
            let errors: Vec<f64> = (0..i)
                .filter(|&j| called[j] <= now)
                .filter_map(|j| estimates[j].map(|(e, _)| (called[j] - arrivals[j]) - e))
                .collect();
            let e = estimate(ahead, &services, 3, &errors);
            if let (Some(m), Some((_, high))) = (e.minutes, e.range) {
                estimates[i] = Some((m, high as f64));
                shown.push((m, high as f64, called[i] - arrivals[i]));
            }
        }
        let all = accuracy(&shown).unwrap();
        let later = accuracy(&shown[shown.len() / 2..]).unwrap();
        println!("simulated day, all estimates: {all:?}");
        println!("simulated day, second half: {later:?}");
        assert!(
            all.tickets >= n - 10,
            "{} of {n} tickets had an estimate",
            all.tickets
        );
        assert!(all.mae.is_finite() && all.rmse >= all.mae);
        assert!((0.0..=1.0).contains(&all.coverage));
    }
}
