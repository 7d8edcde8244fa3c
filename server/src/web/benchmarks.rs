//! `/{owner}/{name}/benchmarks`: every verification run along the default
//! branch's history, per device, as a table and an inline SVG chart (tokens/s
//! and load time per revision); beside them, the card's self-reported
//! `model-index` results, labelled as such. Throughput is charted as one series
//! per device and workload digest: figures of different workloads never share a line.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use granary_core::api::VerificationReport;
use granary_core::model_index::{self, Reported};
use serde::Serialize;

use super::files::{revision_graph, walk};
use super::model::{EvaluationView, ModelHeader, evaluation_views, load_model};
use super::{OrPage, PageResult, When, human_size, page, seg, short, when};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{revisions, web as q};
use crate::error::Path;

/// How far back along the default branch the page looks.
const MAX_REVISIONS: usize = 100;

#[derive(Serialize)]
struct RunRow {
    revision_short: String,
    revision_url: String,
    message: String,
    device: String,
    status: String,
    reason: Option<String>,
    dtype: String,
    architecture: String,
    load: Option<String>,
    latency: Option<String>,
    throughput: Option<String>,
    /// The disclosed workload behind the throughput, with its figures.
    workload: Option<WorkloadView>,
    memory: Option<String>,
    finished: When,
    evaluations: Vec<EvaluationView>,
}

/// A run's workload as the page states it.
#[derive(Serialize)]
struct WorkloadView {
    name: String,
    digest: String,
    /// `pp512 123.4 ± 5.6 tokens/s, ... (2 threads, 5 repetitions)`.
    summary: String,
    /// Why a smaller declared workload ran instead of the standard one.
    reduced: Option<String>,
    verifier_version: String,
}

/// One line of a chart: one device's (and workload's) values along the revisions.
#[derive(Serialize)]
struct Series {
    label: String,
    color: &'static str,
    /// `x,y x,y ...` for a `<polyline>`.
    points: String,
    dots: Vec<Dot>,
}

#[derive(Serialize)]
struct Dot {
    x: f64,
    y: f64,
    title: String,
}

#[derive(Serialize)]
struct Chart {
    title: String,
    unit: String,
    width: u32,
    height: u32,
    /// Plot area: left, top, right, bottom.
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
    y_ticks: Vec<Tick>,
    x_ticks: Vec<Tick>,
    series: Vec<Series>,
}

#[derive(Serialize)]
struct Tick {
    at: f64,
    label: String,
}

#[derive(Serialize)]
struct BenchmarksPage {
    title: String,
    model: ModelHeader,
    runs: Vec<RunRow>,
    charts: Vec<Chart>,
    reported: Vec<Reported>,
    revisions: usize,
}

const COLORS: [&str; 6] = [
    "#1f6feb", "#d9480f", "#2f9e44", "#9c36b5", "#e8590c", "#0b7285",
];

/// `GET /{owner}/{name}/benchmarks`.
pub async fn benchmarks(
    State(state): State<AppState>,
    caller: Caller,
    Path((owner, name)): Path<(String, String)>,
) -> PageResult {
    let model = load_model(&state, &caller, &owner, &name).await?;
    let base = format!("/{}/{}", seg(&model.owner), seg(&model.name));
    let nodes = revision_graph(&state, &model).await?;
    // Oldest first, for the chart's x axis.
    let mut history: Vec<_> = match &model.head_revision {
        Some(head) => walk(&nodes, head, MAX_REVISIONS),
        None => vec![],
    };
    history.reverse();
    let index: HashMap<&str, usize> = history
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();

    let mut runs = Vec::new();
    let mut any_tokens = false;
    // series -> revision index -> (tokens/s or other throughput, load ms); throughput
    // series are per device and workload digest, load time series per device.
    let mut by_workload: SeriesValues = BTreeMap::new();
    let mut by_device: SeriesValues = BTreeMap::new();
    // Per device: (latency ms, peak memory MB).
    let mut costs: SeriesValues = BTreeMap::new();
    for run in q::model_runs(&state.db, &model.id).await.or_page(&state)? {
        let Some(&i) = index.get(run.revision_id.as_str()) else {
            continue;
        };
        let Ok(mut report) = serde_json::from_str::<VerificationReport>(&run.report) else {
            continue;
        };
        report.reason = report
            .reason
            .as_deref()
            .map(crate::verification::redact_paths);
        // A degraded run ran to the end: its speed is measured like a passed one's.
        if report.status.ran() {
            any_tokens |= report.tokens_per_s.is_some();
            let throughput = report.tokens_per_s.or(report.items_per_s);
            // The newest run of a revision on a device wins.
            by_workload
                .entry(series_label(&run.device, &report))
                .or_default()
                .insert(i, (throughput, None));
            by_device
                .entry(run.device.clone())
                .or_default()
                .insert(i, (None, report.load_ms));
            costs.entry(run.device.clone()).or_default().insert(
                i,
                (
                    report.latency_ms,
                    report.peak_memory_bytes.map(|b| b as f64 / 1e6),
                ),
            );
        }
        runs.push((
            i,
            run.finished_at,
            row(
                &history[i].id,
                &history[i].message,
                &base,
                &run.device,
                &report,
                run.finished_at,
            ),
        ));
    }
    // Newest revision first, newest run first within it.
    runs.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));

    let labels: Vec<String> = history
        .iter()
        .map(|n| short(&n.id)[..7].to_string())
        .collect();
    let mut charts = Vec::new();
    let throughput_unit = if by_workload
        .values()
        .flat_map(|m| m.values())
        .any(|v| v.0.is_some())
    {
        let unit = if any_tokens { "tokens/s" } else { "items/s" };
        Some(chart(
            "Throughput per revision",
            unit,
            &labels,
            &by_workload,
            |v| v.0,
        ))
    } else {
        None
    };
    charts.extend(throughput_unit);
    if costs
        .values()
        .flat_map(|m| m.values())
        .any(|v| v.0.is_some())
    {
        charts.push(chart("Latency per revision", "ms", &labels, &costs, |v| {
            v.0
        }));
    }
    if costs
        .values()
        .flat_map(|m| m.values())
        .any(|v| v.1.is_some())
    {
        charts.push(chart(
            "Peak memory per revision",
            "MB",
            &labels,
            &costs,
            |v| v.1,
        ));
    }
    if by_device
        .values()
        .flat_map(|m| m.values())
        .any(|v| v.1.is_some())
    {
        charts.push(chart(
            "Load time per revision",
            "ms",
            &labels,
            &by_device,
            |v| v.1,
        ));
    }

    let head_card = match &model.head_revision {
        Some(head) => revisions::find(&state.db, &model.id, head)
            .await
            .or_page(&state)?
            .map(|r| r.card.clone()),
        None => None,
    };
    let reported = head_card
        .and_then(|c| serde_json::from_str::<serde_json::Value>(&c).ok())
        .map(|c| model_index::self_reported(&c))
        .unwrap_or_default();
    page(
        &state,
        "benchmarks.html",
        &BenchmarksPage {
            title: format!("Benchmarks of {}", model.full_name()),
            model: ModelHeader::for_caller(&state, &caller, &model, "benchmarks").await?,
            runs: runs.into_iter().map(|(_, _, r)| r).collect(),
            charts,
            reported,
            revisions: history.len(),
        },
    )
}

/// Values per revision index, per series label.
type SeriesValues = BTreeMap<String, BTreeMap<usize, (Option<f64>, Option<f64>)>>;

/// The throughput series a run belongs to: its device and its workload, named
/// with the digest's start so two workloads of one name stay apart.
fn series_label(device: &str, r: &VerificationReport) -> String {
    match &r.workload {
        Some(w) => format!(
            "{device} · {} ({})",
            w.name,
            w.digest.get(..8).unwrap_or(&w.digest)
        ),
        None => format!("{device} · undisclosed workload"),
    }
}

fn row(
    revision: &str,
    message: &str,
    base: &str,
    device: &str,
    r: &VerificationReport,
    finished: i64,
) -> RunRow {
    RunRow {
        revision_short: short(revision),
        revision_url: format!("{base}/tree/{revision}"),
        message: message.to_string(),
        device: device.to_string(),
        status: r.status.to_string(),
        reason: r.reason.clone(),
        dtype: r.dtype_label(),
        architecture: r.architecture.clone(),
        load: r.load_ms.map(|ms| format!("{ms:.0} ms")),
        latency: r.latency_ms.map(|ms| format!("{ms:.1} ms")),
        throughput: r
            .tokens_per_s
            .map(|t| format!("{t:.1} tokens/s"))
            .or_else(|| r.items_per_s.map(|t| format!("{t:.1} items/s")))
            .or_else(|| r.gflops.map(|g| format!("{g:.2} GFLOP/s"))),
        workload: r.workload.as_ref().map(|w| WorkloadView {
            name: w.name.clone(),
            digest: w.digest.clone(),
            summary: w.summary(),
            reduced: w.reduced.clone(),
            verifier_version: r.verifier_version.clone(),
        }),
        memory: r.peak_memory_bytes.map(human_size),
        finished: when(finished),
        evaluations: evaluation_views(r),
    }
}

/// A line chart of one value per revision, one line per device.
fn chart(
    title: &str,
    unit: &str,
    labels: &[String],
    by_device: &SeriesValues,
    pick: impl Fn(&(Option<f64>, Option<f64>)) -> Option<f64>,
) -> Chart {
    let (width, height) = (640u32, 260u32);
    let (left, top, right, bottom) = (64.0, 16.0, width as f64 - 40.0, height as f64 - 40.0);
    let max = by_device
        .values()
        .flat_map(|m| m.values().filter_map(&pick))
        .fold(0.0f64, f64::max);
    let y_max = nice_ceiling(max);
    let n = labels.len().max(1);
    let x_of = |i: usize| {
        if n == 1 {
            (left + right) / 2.0
        } else {
            left + (right - left) * i as f64 / (n - 1) as f64
        }
    };
    let y_of = |v: f64| bottom - (bottom - top) * (v / y_max);
    let series = by_device
        .iter()
        .enumerate()
        .filter_map(|(k, (device, values))| {
            let pts: Vec<(usize, f64)> = values
                .iter()
                .filter_map(|(i, v)| pick(v).map(|x| (*i, x)))
                .collect();
            if pts.is_empty() {
                return None;
            }
            Some(Series {
                label: device.clone(),
                color: COLORS[k % COLORS.len()],
                points: pts
                    .iter()
                    .map(|(i, v)| format!("{:.1},{:.1}", x_of(*i), y_of(*v)))
                    .collect::<Vec<_>>()
                    .join(" "),
                dots: pts
                    .iter()
                    .map(|(i, v)| Dot {
                        x: round1(x_of(*i)),
                        y: round1(y_of(*v)),
                        title: format!("{} on {device}: {} {unit}", labels[*i], fmt_value(*v)),
                    })
                    .collect(),
            })
        })
        .collect();
    let y_ticks = (0..=4)
        .map(|k| {
            let v = y_max * k as f64 / 4.0;
            Tick {
                at: round1(y_of(v)),
                label: fmt_value(v),
            }
        })
        .collect();
    // At most ~10 revision labels along the x axis.
    let step = labels.len().div_ceil(10).max(1);
    let x_ticks = labels
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i == labels.len() - 1)
        .map(|(i, l)| Tick {
            at: round1(x_of(i)),
            label: l.clone(),
        })
        .collect();
    Chart {
        title: title.into(),
        unit: unit.into(),
        width,
        height,
        left,
        top,
        right,
        bottom,
        y_ticks,
        x_ticks,
        series,
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn fmt_value(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `v` (1 for nothing to show).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(400.0), 500.0);
    }
}
