//! The KPI dashboard: stay time (median, 90th percentile, histogram), visits and procedures
//! per visit, forms and fields prefilled against typed (handwriting avoided), for a day, a
//! week, a month or a fiscal year (年度, April–March). Charts are SVG drawn by the server
//! (plotters); each has a sentence that says what it shows, its numbers as a table, and the
//! whole period downloads as CSV. Aggregates only: no resident appears.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Datelike, Duration, NaiveDate};
use maud::{Markup, PreEscaped, html};
use plotters::prelude::*;

use super::page::{self, Failure, Frame, t};
use super::session::Signed;
use crate::http::state::AppState;
use crate::i18n::Lang;
use crate::kpi::{BIN_MINUTES, BINS, PeriodKpis};

/// The periods the dashboard offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
    FiscalYear,
}

impl Period {
    fn parse(s: Option<&str>) -> Period {
        match s {
            Some("week") => Period::Week,
            Some("month") => Period::Month,
            Some("fy") => Period::FiscalYear,
            _ => Period::Day,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::FiscalYear => "fy",
        }
    }

    fn label(self, lang: Lang) -> &'static str {
        match self {
            Period::Day => t(lang, "日", "Day"),
            Period::Week => t(lang, "週", "Week"),
            Period::Month => t(lang, "月", "Month"),
            Period::FiscalYear => t(lang, "年度", "Fiscal year"),
        }
    }

    /// The first and last day of the period that holds `day` (weeks start on Monday).
    pub fn range(self, day: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            Period::Day => (day, day),
            Period::Week => {
                let from = day - Duration::days(day.weekday().num_days_from_monday() as i64);
                (from, from + Duration::days(6))
            }
            Period::Month => {
                let from = day.with_day(1).unwrap_or(day);
                let next = if day.month() == 12 {
                    NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(day.year(), day.month() + 1, 1)
                };
                (from, next.map(|n| n - Duration::days(1)).unwrap_or(day))
            }
            Period::FiscalYear => {
                let start_year = if day.month() >= 4 {
                    day.year()
                } else {
                    day.year() - 1
                };
                let from = NaiveDate::from_ymd_opt(start_year, 4, 1).unwrap_or(day);
                let to = NaiveDate::from_ymd_opt(start_year + 1, 3, 31).unwrap_or(day);
                (from, to)
            }
        }
    }
}

/// Days read for one page at most (a fiscal year).
const MAX_DAYS: i64 = 366;

async fn compute(
    state: &AppState,
    signed: &Signed,
    period: Period,
    day: NaiveDate,
) -> Result<PeriodKpis, Failure> {
    let (from, to) = period.range(day);
    let code = signed.session.staff.lg_code;
    let mut days = Vec::new();
    let mut d = from;
    while d <= to && (d - from).num_days() < MAX_DAYS {
        let visits = state
            .store
            .visits_on(&code, d)
            .await
            .map_err(|e| signed.api(e.into()))?;
        days.push((d, visits));
        d += Duration::days(1);
    }
    Ok(crate::kpi::period(from, to, &days))
}

fn minutes(lang: Lang, m: Option<f64>) -> String {
    match (m, lang) {
        (Some(m), Lang::Ja) => format!("{}分", m.round()),
        (Some(m), Lang::En) => format!("{} min", m.round()),
        (None, _) => "—".to_owned(),
    }
}

/// An SVG from plotters, made accessible: `role="img"`, named by its `<title>` and described
/// by its `<desc>`.
fn accessible_svg(svg: String, id: &str, title: &str, desc: &str) -> Markup {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let head =
        format!(r#"<svg role="img" aria-labelledby="{id}-title {id}-desc" focusable="false" "#);
    let svg = svg.replacen("<svg ", &head, 1);
    let svg = match svg.find('>') {
        Some(i) => format!(
            "{}<title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>{}",
            &svg[..=i],
            esc(title),
            esc(desc),
            &svg[i + 1..]
        ),
        None => svg,
    };
    PreEscaped(svg)
}

const SERIES: RGBColor = RGBColor(0x00, 0x17, 0xc1);
const TARGET: RGBColor = RGBColor(0xc7, 0x47, 0x00);

fn histogram_svg(k: &PeriodKpis, lang: Lang) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 280)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let top = k.histogram.iter().copied().max().unwrap_or(0).max(1) as u32;
        let built = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(40)
            .build_cartesian_2d(0u32..(BINS as u32 * BIN_MINUTES as u32), 0u32..top + 1);
        if let Ok(mut chart) = built {
            let _ = chart
                .configure_mesh()
                .disable_x_mesh()
                .light_line_style(RGBColor(0xe6, 0xe6, 0xe6))
                .x_desc(t(lang, "滞在時間(分)", "Stay (minutes)"))
                .y_desc(t(lang, "件数", "Visits"))
                .label_style(("sans-serif", 13))
                .draw();
            let bars = k.histogram.iter().enumerate().map(|(i, n)| {
                let x0 = i as u32 * BIN_MINUTES as u32;
                Rectangle::new(
                    [(x0, 0), (x0 + BIN_MINUTES as u32, *n as u32)],
                    SERIES.filled(),
                )
            });
            let _ = chart.draw_series(bars);
            for (line, (q, label)) in [
                (k.median_stay_minutes, "中央値"),
                (k.p90_stay_minutes, "90%"),
            ]
            .into_iter()
            .enumerate()
            {
                if let Some(m) = q {
                    // The second label a line lower, so that both read when they meet.
                    let y = (top + 1).saturating_sub(line as u32 * (top / 6).max(1));
                    let x = (m.round() as u32).min(BINS as u32 * BIN_MINUTES as u32);
                    let _ = chart.draw_series(std::iter::once(PathElement::new(
                        vec![(x, 0), (x, top + 1)],
                        TARGET.stroke_width(2),
                    )));
                    let _ = chart.draw_series(std::iter::once(Text::new(
                        format!(
                            "{} {}",
                            t(
                                lang,
                                label,
                                if label == "中央値" {
                                    "median"
                                } else {
                                    "p90"
                                }
                            ),
                            minutes(lang, Some(m))
                        ),
                        (x, y),
                        ("sans-serif", 13).into_font().color(&TARGET),
                    )));
                }
            }
        }
        let _ = root.present();
    }
    svg
}

fn fields_svg(k: &PeriodKpis, lang: Lang) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 120)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let total = (k.fields_prefilled + k.fields_typed).max(1) as u32;
        if let Ok(mut chart) = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(30)
            .build_cartesian_2d(0u32..total, 0u32..1u32)
        {
            let _ = chart
                .configure_mesh()
                .disable_y_mesh()
                .disable_y_axis()
                .light_line_style(RGBColor(0xe6, 0xe6, 0xe6))
                .x_desc(t(lang, "項目数", "Fields"))
                .label_style(("sans-serif", 13))
                .draw();
            let prefilled = k.fields_prefilled as u32;
            let _ = chart.draw_series(std::iter::once(Rectangle::new(
                [(0, 0), (prefilled, 1)],
                SERIES.filled(),
            )));
            // Typed fields: outlined, so the two differ without colour.
            let _ = chart.draw_series(std::iter::once(Rectangle::new(
                [(prefilled, 0), (total, 1)],
                TARGET.stroke_width(3),
            )));
        }
        let _ = root.present();
    }
    svg
}

/// A group's rows: visits, submitted, median and 90th percentile stay (none for a small
/// group).
fn groups_table(
    lang: Lang,
    groups: &[crate::kpi::GroupKpis],
    id: &str,
    head: &str,
    name: impl Fn(&str) -> String,
) -> Markup {
    html! {
        @if groups.is_empty() {
            p { (t(lang, "この期間の来庁はありません。", "No visits in this period.")) }
        } @else {
            div.table-scroll {
                table.dads-table__table data-size="dense" #(id) {
                    thead { tr {
                        th scope="col" { (head) }
                        th scope="col" { (t(lang, "来庁件数", "Visits")) }
                        th scope="col" { (t(lang, "申請済み", "Submitted")) }
                        th scope="col" { (t(lang, "滞在時間 中央値", "Median stay")) }
                        th scope="col" { (t(lang, "90パーセンタイル", "90th percentile")) }
                    } }
                    tbody {
                        @for g in groups {
                            tr {
                                th scope="row" { (name(&g.key)) }
                                td.num { (g.visits) }
                                td.num { (g.submitted) }
                                td.num { (minutes(lang, g.median_stay_minutes)) }
                                td.num { (minutes(lang, g.p90_stay_minutes)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn trend_desc(k: &PeriodKpis, lang: Lang) -> String {
    let shown: Vec<_> = k.days.iter().filter(|d| d.2.is_some()).collect();
    match (shown.first(), shown.last(), lang) {
        (Some(a), Some(b), Lang::Ja) => format!(
            "{}日分。最初の日の中央値は{}、最後の日は{}でした。",
            shown.len(),
            minutes(lang, a.2),
            minutes(lang, b.2)
        ),
        (Some(a), Some(b), Lang::En) => format!(
            "{} days. The median was {} on the first day and {} on the last.",
            shown.len(),
            minutes(lang, a.2),
            minutes(lang, b.2)
        ),
        _ => t(
            lang,
            "この期間に申請まで済んだ日はありません。",
            "No day of this period has a submitted visit.",
        )
        .to_owned(),
    }
}

/// Median and 90th percentile stay by day: two lines told apart by their labels and their
/// strokes (solid, dashed), not by colour alone.
fn trend_svg(k: &PeriodKpis, lang: Lang) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 260)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let n = k.days.len().max(1) as u32;
        let top = k
            .days
            .iter()
            .filter_map(|d| d.3)
            .fold(10.0f64, f64::max)
            .ceil() as u32
            + 5;
        if let Ok(mut chart) = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(40)
            .build_cartesian_2d(0u32..n, 0u32..top)
        {
            let _ = chart
                .configure_mesh()
                .disable_x_mesh()
                .light_line_style(RGBColor(0xe6, 0xe6, 0xe6))
                .x_desc(t(lang, "日(期間の何日目)", "Day of the period"))
                .y_desc(t(lang, "分", "Minutes"))
                .x_label_formatter(&|x| (x + 1).to_string())
                .label_style(("sans-serif", 13))
                .draw();
            let points = |pick: fn(&crate::kpi::DayRow) -> Option<f64>| {
                k.days
                    .iter()
                    .enumerate()
                    .filter_map(|(i, d)| pick(d).map(|m| (i as u32, m.round() as u32)))
                    .collect::<Vec<_>>()
            };
            let median = points(|d| d.2);
            let p90 = points(|d| d.3);
            let _ = chart.draw_series(LineSeries::new(median.clone(), SERIES.stroke_width(2)));
            let _ = chart.draw_series(median.iter().map(|p| Circle::new(*p, 3, SERIES.filled())));
            // The 90th percentile dashed.
            let _ = chart.draw_series(DashedLineSeries::new(
                p90.clone(),
                6,
                4,
                TARGET.stroke_width(2),
            ));
            let _ = chart.draw_series(
                p90.iter()
                    .map(|p| TriangleMarker::new(*p, 4, TARGET.filled())),
            );
            for (series, label, color) in [
                (&median, t(lang, "中央値", "median"), SERIES),
                (&p90, "90%", TARGET),
            ] {
                if let Some(last) = series.last() {
                    let _ = chart.draw_series(std::iter::once(Text::new(
                        label.to_owned(),
                        (last.0, last.1 + 1),
                        ("sans-serif", 13).into_font().color(&color),
                    )));
                }
            }
        }
        let _ = root.present();
    }
    svg
}

fn tile(label: &str, value: String) -> Markup {
    html! {
        div.kpi-tile {
            dt { (label) }
            dd { (value) }
        }
    }
}

/// The period and day a request asks for: today's day when it names none.
fn asked(req: &HttpRequest) -> (Period, NaiveDate) {
    let pairs = page::query(req);
    let period = Period::parse(page::field(&pairs, "period"));
    let day = page::field(&pairs, "date")
        .and_then(|d| d.parse::<NaiveDate>().ok())
        .unwrap_or_else(|| crate::clock::japan_day(crate::clock::now()));
    (period, day)
}

/// `GET /counter/kpis?period=day|week|month|fy&date=YYYY-MM-DD`.
pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed: Signed,
) -> Result<HttpResponse, Failure> {
    let lang = signed.lang;
    let (period, day) = asked(&req);
    let k = compute(&state, &signed, period, day).await?;
    let staff = state
        .store
        .list_staff(signed.session.staff.lg_code)
        .await
        .map_err(|e| signed.api(e.into()))?;
    let eras = &state.forms.eras;
    let span = if k.from == k.to {
        eras.wareki_day(k.from).unwrap_or_default()
    } else {
        format!(
            "{} 〜 {}",
            eras.wareki_day(k.from).unwrap_or_default(),
            eras.wareki_day(k.to).unwrap_or_default()
        )
    };
    let title = t(lang, "窓口の指標", "Counter KPIs");
    let takeaway = match (k.median_stay_minutes, lang) {
        (Some(m), Lang::Ja) => format!(
            "この期間の滞在時間の中央値は{}分、90パーセンタイルは{}分でした(申請まで済んだ{}件)。",
            m.round(),
            k.p90_stay_minutes.unwrap_or(m).round(),
            k.submitted
        ),
        (Some(m), Lang::En) => format!(
            "In this period the median stay was {} minutes and the 90th percentile {} minutes ({} visits submitted).",
            m.round(),
            k.p90_stay_minutes.unwrap_or(m).round(),
            k.submitted
        ),
        (None, _) => t(
            lang,
            "この期間に申請まで済んだ来庁はありません。",
            "No visit was submitted in this period.",
        )
        .to_owned(),
    };
    let share = (k.fields_prefilled + k.fields_typed > 0)
        .then(|| 100.0 * k.fields_prefilled as f64 / (k.fields_prefilled + k.fields_typed) as f64);
    let csv_link = format!("/counter/kpis.csv?period={}&date={}", period.code(), day);
    let markup = page::render(
        Frame {
            lang,
            title,
            signed: Some(&signed),
            nav: None,
            side: None,
        },
        html! {
            h1 tabindex="-1" { (title) }
            p.print-only { (signed.municipality_name) " " (span) }
            form method="get" action="/counter/kpis" aria-label=(t(lang, "期間", "Period")) {
                fieldset {
                    legend { (t(lang, "期間", "Period")) }
                    div.choices {
                        @for p in [Period::Day, Period::Week, Period::Month, Period::FiscalYear] {
                            label.dads-radio { input type="radio" name="period" value=(p.code()) checked[p == period]; span { (p.label(lang)) } }
                        }
                    }
                }
                div.dads-form-control-label {
                    label.dads-form-control-label__label for="date" { (t(lang, "基準日", "Day")) }
                    input.dads-input-text__input #date name="date" type="text" inputmode="numeric" value=(day) autocomplete="off";
                }
                div.actions { button.dads-button data-type="outline" type="submit" { (t(lang, "表示する", "Show")) } }
            }
            p #kpi-span { (span) }
            p #kpi-takeaway { (takeaway) }
            dl.kpi-tiles #kpi-tiles {
                (tile(t(lang, "来庁件数", "Visits"), k.visits.to_string()))
                (tile(t(lang, "申請済み", "Submitted"), k.submitted.to_string()))
                (tile(t(lang, "滞在時間 中央値", "Median stay"), minutes(lang, k.median_stay_minutes)))
                (tile(t(lang, "滞在時間 90パーセンタイル", "90th percentile stay"), minutes(lang, k.p90_stay_minutes)))
                (tile(t(lang, "手続き数/件", "Procedures per visit"), k.procedures_per_visit.map(|p| format!("{p:.1}")).unwrap_or_else(|| "—".to_owned())))
                (tile(t(lang, "書かずに済んだ申請書", "Forms not handwritten"), match lang { Lang::Ja => format!("{}枚", k.forms_prefilled), Lang::En => k.forms_prefilled.to_string() }))
                (tile(t(lang, "自動入力した項目", "Fields filled in"), match share { Some(s) => format!("{} ({s:.0}%)", k.fields_prefilled), None => k.fields_prefilled.to_string() }))
            }
            figure #stay-histogram {
                figcaption { (t(lang, "滞在時間の分布(5分ごと、中央値と90パーセンタイルの線)", "Stay times (5-minute bins, median and 90th percentile marked)")) }
                (accessible_svg(histogram_svg(&k, lang), "stay-chart", &takeaway, &takeaway))
                details {
                    summary { (t(lang, "表で見る", "As a table")) }
                    table.dads-table__table data-size="dense" {
                        thead { tr { th scope="col" { (t(lang, "滞在時間", "Stay")) } th scope="col" { (t(lang, "件数", "Visits")) } } }
                        tbody {
                            @for (i, n) in k.histogram.iter().enumerate() {
                                tr {
                                    th scope="row" { (i as i64 * BIN_MINUTES) "–" ((i as i64 + 1) * BIN_MINUTES) (t(lang, "分", " min")) }
                                    td.num { (n) }
                                }
                            }
                        }
                    }
                }
            }
            figure #fields-chart-figure {
                figcaption { (t(lang, "自動入力(塗り)と手入力(枠)の項目数", "Fields filled in (solid) and typed (outlined)")) }
                @let desc = match lang { Lang::Ja => format!("自動入力 {}項目、手入力 {}項目", k.fields_prefilled, k.fields_typed), Lang::En => format!("{} fields filled in, {} typed", k.fields_prefilled, k.fields_typed) };
                (accessible_svg(fields_svg(&k, lang), "fields-chart", &desc, &desc))
            }
            @if k.days.len() > 1 {
                figure #stay-trend {
                    figcaption { (t(lang, "滞在時間の推移(日ごとの中央値と90パーセンタイル)", "Stay time by day (median and 90th percentile)")) }
                    @let desc = trend_desc(&k, lang);
                    (accessible_svg(trend_svg(&k, lang), "trend-chart", &desc, &desc))
                }
            }
            h2 #by-area { (t(lang, "業務区分ごと", "By business area")) }
            (groups_table(lang, &k.areas, "kpi-areas", t(lang, "業務区分", "Business area"), |key| {
                state.catalog.vocabulary.areas.get(key).map(|a| a.get(lang).to_owned()).unwrap_or_else(|| key.to_owned())
            }))
            h2 #by-clerk { (t(lang, "受付した職員ごと", "By the clerk who opened the visit")) }
            (groups_table(lang, &k.clerks, "kpi-clerks", t(lang, "職員", "Clerk"), |key| {
                let login = key.split('@').next().unwrap_or(key);
                staff.iter().find(|s| s.login == login).map(|s| s.name.clone()).unwrap_or_else(|| key.to_owned())
            }))
            h2 #by-counter { (t(lang, "窓口ごと", "By counter")) }
            (groups_table(lang, &k.counters, "kpi-counters", t(lang, "窓口", "Counter"), |key| {
                if key.is_empty() { t(lang, "窓口の記録なし", "No counter recorded").to_owned() } else { key.to_owned() }
            }))
            p.echo { (match lang {
                Lang::Ja => format!("申請まで済んだ来庁が{}件未満の行は、来庁者が特定されないよう滞在時間を表示しません。窓口は、受付を始めた端末の窓口(新しい受付で入れたもの)です。", crate::kpi::SMALL_GROUP),
                Lang::En => format!("Rows with fewer than {} submitted visits show no stay time, so that no resident can be singled out. A visit's counter is the one its PC was at when it was opened (typed in New visit).", crate::kpi::SMALL_GROUP),
            }) }
            h2 { (t(lang, "日ごと", "By day")) }
            div.table-scroll {
                table.dads-table__table data-size="dense" #kpi-days {
                    thead { tr {
                        th scope="col" { (t(lang, "日", "Day")) }
                        th scope="col" { (t(lang, "来庁件数", "Visits")) }
                        th scope="col" { (t(lang, "滞在時間 中央値", "Median stay")) }
                    } }
                    tbody {
                        @for (d, n, m, _) in k.days.iter().filter(|(_, n, _, _)| *n > 0) {
                            tr { th scope="row" { (eras.wareki_day(*d).unwrap_or_default()) } td.num { (n) } td.num { (minutes(lang, *m)) } }
                        }
                    }
                }
            }
            p { a href=(csv_link) download { (t(lang, "CSVで保存", "Download as CSV")) } }
            p.echo { (t(lang, "滞在時間 = 受付を始めてから申請を送るまで。中央値・90パーセンタイルは申請まで済んだ来庁について計算します。", "Stay = from opening the visit to sending its applications; medians and percentiles over submitted visits.")) }
        },
    );
    Ok(page::ok(markup))
}

/// `GET /counter/kpis.csv`: the period's days as CSV (UTF-8 with BOM, which Excel in Japan
/// reads as UTF-8).
pub async fn csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed: Signed,
) -> Result<HttpResponse, Failure> {
    let (period, day) = asked(&req);
    let k = compute(&state, &signed, period, day).await?;
    let mut out = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let fail = |e: csv::Error| signed.api(crate::http::problem::ApiError::internal(e));
    out.write_record(["date", "visits", "medianStayMinutes", "p90StayMinutes"])
        .map_err(fail)?;
    let one = |m: &Option<f64>| m.map(|m| format!("{m:.1}")).unwrap_or_default();
    for (d, n, m, p90) in &k.days {
        out.write_record([d.to_string(), n.to_string(), one(m), one(p90)])
            .map_err(fail)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| signed.api(crate::http::problem::ApiError::internal(e)))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"kpis-{}-{}.csv\"",
                period.code(),
                day
            ),
        ))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods_cover_their_days() {
        // 2026-12-07 is a Monday.
        assert_eq!(
            Period::Week.range(d(2026, 12, 9)),
            (d(2026, 12, 7), d(2026, 12, 13))
        );
        assert_eq!(
            Period::Month.range(d(2026, 12, 9)),
            (d(2026, 12, 1), d(2026, 12, 31))
        );
        assert_eq!(
            Period::Month.range(d(2028, 2, 10)),
            (d(2028, 2, 1), d(2028, 2, 29))
        );
        // 年度: April to March.
        assert_eq!(
            Period::FiscalYear.range(d(2027, 1, 15)),
            (d(2026, 4, 1), d(2027, 3, 31))
        );
        assert_eq!(
            Period::FiscalYear.range(d(2026, 4, 1)),
            (d(2026, 4, 1), d(2027, 3, 31))
        );
    }
}
