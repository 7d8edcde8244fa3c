//! `granary info OWNER/NAME[:REF | @REVISION]`: a revision's facts. `--json`
//! passes the server's JSON through as it came, fields this client does not
//! know included; the human form reads it as a [`ModelInfo`].

use anyhow::Result;
use granary_core::api::{ModelInfo, VerificationReport};
use granary_core::model_index;
use serde_json::Value;

use crate::cli::InfoArgs;
use crate::context::Ctx;
use crate::model_ref::{ModelRef, encode_segment};
use crate::progress::{human_bytes, human_count};

pub async fn run(ctx: &Ctx, args: InfoArgs) -> Result<()> {
    let target = ModelRef::parse(&args.model)?;
    let mut url = target.api_base();
    if let Some(rev) = &target.rev {
        url.push_str(&format!("?ref={}", encode_segment(&rev.to_string())));
    }
    let what = format!("cannot read {}", args.model);
    let answer: Value = ctx.client.get_json(&url, &what).await?;
    if ctx.global.json {
        return ctx.print_json(&answer);
    }
    let info: ModelInfo = crate::client::from_value(answer, &what)?;
    crate::out!("{}", render(&info));
    Ok(())
}

/// The human form of a `ModelInfo`.
pub fn render(info: &ModelInfo) -> String {
    let mut out = format!("{}\n", info.id);
    let Some(rev) = &info.revision else {
        out.push_str("  no revision yet\n");
        return out;
    };
    let permissive = if rev.permissive { " (permissive)" } else { "" };
    let params: Vec<String> = rev
        .parameters
        .iter()
        .map(|(k, v)| format!("{k} {}", human_count(*v)))
        .collect();
    out.push_str(&format!("  revision    {}\n", rev.id));
    out.push_str(&format!("  license     {}{permissive}\n", rev.license.id));
    out.push_str(&format!(
        "  parameters  {} ({})\n",
        human_count(rev.parameter_total),
        params.join(", ")
    ));
    out.push_str(&format!(
        "  size        {} in {} files\n",
        human_bytes(rev.total_size),
        rev.files.len()
    ));
    let when = granary_core::time::rfc3339(rev.created_at);
    out.push_str(&format!(
        "  committed   {} by {}: {}\n",
        &when[..16].replace('T', " "),
        rev.author,
        rev.message
    ));
    out.push_str("  files\n");
    for f in &rev.files {
        out.push_str(&format!(
            "    {:>10}  {}  {}\n",
            human_bytes(f.size),
            f.sha256,
            f.path
        ));
    }
    let reported = model_index::self_reported(&rev.card);
    if !reported.is_empty() {
        out.push_str("  self-reported by the card (model-index, not checked by Granary)\n");
        for r in &reported {
            let on = [r.dataset.as_str(), r.task.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", ");
            out.push_str(&format!("    {} {}  {on}\n", r.metric, r.value));
        }
    }
    // One summary line per run (device); the reports in full only under --json.
    out.push_str("  verification (the full reports: --json)\n");
    if rev.verification.is_empty() {
        out.push_str("    none yet\n");
    }
    for run in &rev.verification {
        out.push_str(&summary(run));
    }
    out
}

/// Load time, throughput and peak memory of a run, as far as it measured them.
fn figures(run: &VerificationReport) -> String {
    let mut parts = Vec::new();
    if let Some(ms) = run.load_ms {
        parts.push(format!("load {:.2}s", ms / 1000.0));
    }
    if let Some(t) = run.tokens_per_s {
        parts.push(format!("{t:.1} tokens/s"));
    } else if let Some(i) = run.items_per_s {
        parts.push(format!("{i:.1} items/s"));
    } else if let Some(g) = run.gflops {
        parts.push(format!("{g:.1} GFLOP/s"));
    }
    if let Some(b) = run.peak_memory_bytes {
        parts.push(format!("peak {}", human_bytes(b)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" [{}]", parts.join(", "))
    }
}

/// One run in a line: status, where it ran, architecture, load, throughput and
/// memory, the reason (for `degraded`, what looked absurd); then one line per
/// evaluation and the workload.
fn summary(run: &VerificationReport) -> String {
    let mut out = format!("    {:<9} {}", run.status.as_str(), run.device);
    if !run.architecture.is_empty() {
        let dtype = match run.converted_from.as_deref() {
            None | Some("") => run.dtype.clone(),
            Some(from) => format!("{}, converted from {from}", run.dtype),
        };
        out.push_str(&format!(" ({} {dtype})", run.architecture));
    }
    out.push_str(&figures(run));
    if let Some(reason) = run.reason.as_deref().filter(|r| !r.is_empty()) {
        out.push_str(&format!(": {reason}"));
    }
    out.push('\n');
    for e in &run.evaluations {
        let digest: String = e.digest.chars().take(12).collect();
        out.push_str(&format!(
            "      {}  {}: {}, inputs {digest}\n",
            e.name,
            e.summary(),
            e.verdict
        ));
    }
    out.push_str(&workload(run));
    out
}

/// The disclosed workload beside its figures, with its digest and the verifier
/// that ran it; nothing for reports from before workloads existed.
fn workload(run: &VerificationReport) -> String {
    let Some(w) = &run.workload else {
        return String::new();
    };
    let digest: String = w.digest.chars().take(12).collect();
    let mut out = format!(
        "      workload {}: {}, digest {digest}",
        w.name,
        w.summary()
    );
    if !run.verifier_version.is_empty() {
        out.push_str(&format!(", granary-verify {}", run.verifier_version));
    }
    out.push('\n');
    if let Some(why) = &w.reduced {
        out.push_str(&format!("      smaller declared workload: {why}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use granary_core::api::ModelInfo;

    /// A model answer: `fields` over the required ones, and `revision` over a revision's.
    fn model(fields: serde_json::Value, revision: serde_json::Value) -> ModelInfo {
        let mut rev = serde_json::json!({
            "id": "ab".repeat(32), "model": "alice/tiny", "author": "alice", "message": "first",
            "created_at": 0, "license": {"id": "Apache-2.0"}, "permissive": false,
            "total_size": 0, "parameters": {}, "parameter_total": 0, "files": []
        });
        merge(&mut rev, revision);
        let mut info = serde_json::json!({
            "id": "alice/tiny", "owner": "alice", "name": "tiny", "private": false,
            "created_at": 0, "updated_at": 0, "default_branch": "main", "downloads": 0,
            "revision": rev
        });
        merge(&mut info, fields);
        serde_json::from_value(info).expect("a ModelInfo")
    }

    fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
        for (k, v) in from.as_object().cloned().unwrap_or_default() {
            into[k] = v;
        }
    }

    #[test]
    fn an_empty_model_says_so() {
        let info = model(serde_json::json!({"revision": null}), serde_json::json!({}));
        assert_eq!(super::render(&info), "alice/tiny\n  no revision yet\n");
    }
    #[test]
    fn renders_revision_facts_and_one_line_per_run() {
        let info = model(
            serde_json::json!({}),
            serde_json::json!({
                "license": {"id": "Apache-2.0"}, "permissive": true,
                "parameters": {"F32": 1500}, "parameter_total": 1500, "total_size": 6000,
                "files": [{"path": "w.safetensors", "size": 6000, "sha256": "cd".repeat(32)}],
                "verification": [{"status": "passed"}]
            }),
        );
        let text = super::render(&info);
        assert!(text.contains("Apache-2.0 (permissive)"));
        assert!(text.contains("1.5K (F32 1.5K)"));
        assert!(text.contains("w.safetensors"));
        assert!(text.contains("    passed    \n"), "{text}");
        assert!(!text.contains('{'), "no raw report outside --json: {text}");
    }

    #[test]
    fn a_run_line_has_load_throughput_and_memory() {
        let info = model(
            serde_json::json!({}),
            serde_json::json!({
                "verification": [
                    {"status": "passed", "device": "cuda: H200", "architecture": "llama", "dtype": "BF16",
                     "load_ms": 1250.0, "tokens_per_s": 812.34, "peak_memory_bytes": 3_000_000_000u64},
                    {"status": "passed", "device": "cpu: Test", "architecture": "bert", "dtype": "F32",
                     "items_per_s": 55.0}
                ]
            }),
        );
        let text = super::render(&info);
        assert!(
            text.contains(
                "    passed    cuda: H200 (llama BF16) [load 1.25s, 812.3 tokens/s, peak 3.0 GB]\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("    passed    cpu: Test (bert F32) [55.0 items/s]\n"),
            "{text}"
        );
    }

    #[test]
    fn a_degraded_run_shows_its_reason_and_evaluation() {
        let reason = "runs, but its embeddings do not tell paraphrases from unrelated sentences";
        let info = model(
            serde_json::json!({"id": "alice/broken"}),
            serde_json::json!({
                "verification": [{
                    "status": "degraded", "device": "cpu: Test", "architecture": "bert", "dtype": "F32",
                    "reason": reason,
                    "evaluations": [{"name": "sentence-pairs-v1", "digest": "90".repeat(32),
                        "metric": "spearman", "value": -0.55, "threshold": 0.2, "verdict": "degraded"}]
                }]
            }),
        );
        let text = super::render(&info);
        assert!(
            text.contains(&format!("    degraded  cpu: Test (bert F32): {reason}\n")),
            "{text}"
        );
        assert!(
            text.contains("      sentence-pairs-v1  spearman -0.5500 (threshold 0.2): degraded, inputs 909090909090\n"),
            "{text}"
        );
    }

    #[test]
    fn a_decoder_run_shows_its_perplexity_beside_the_cards_own_figures() {
        let info = model(
            serde_json::json!({"id": "alice/smol"}),
            serde_json::json!({
                "card": {"model-index": [{"name": "smol", "results": [{
                    "task": {"type": "text-generation"},
                    "dataset": {"name": "HellaSwag", "type": "hellaswag"},
                    "metrics": [{"type": "acc_norm", "value": 42.1}]}]}]},
                "verification": [{
                    "status": "passed", "device": "cpu: Test", "architecture": "llama",
                    "dtype": "F32", "converted_from": "BF16",
                    "evaluations": [{"name": "english-prose-v1", "digest": "00".repeat(32),
                        "metric": "perplexity", "value": 21.8619, "threshold": 1000.0,
                        "verdict": "sane", "tokens": 2850, "context": 512, "stride": 256}]
                }]
            }),
        );
        let text = super::render(&info);
        for want in [
            "  self-reported by the card (model-index, not checked by Granary)\n    acc_norm 42.1  HellaSwag, text-generation\n",
            "    passed    cpu: Test (llama F32, converted from BF16)\n",
            "      english-prose-v1  perplexity 21.8619 (threshold 1000) over 2850 tokens, context 512, stride 256: sane, inputs 000000000000\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    #[test]
    fn a_run_states_its_workload_beside_the_figures() {
        let info = model(
            serde_json::json!({"id": "alice/tiny"}),
            serde_json::json!({
                "verification": [{
                    "status": "passed", "device": "cpu: Test", "architecture": "llama", "dtype": "F32",
                    "verifier_version": "0.1.0", "tokens_per_s": 40.5,
                    "workload": {"name": "pp128/tg32", "digest": "12".repeat(32), "threads": 2,
                        "repetitions": 5, "warmups": 1,
                        "reduced": "pp512/tg128 needs 512 positions; the model has 256",
                        "results": [
                            {"name": "pp128", "unit": "tokens/s", "mean": 123.44, "sd": 5.61},
                            {"name": "tg32", "unit": "tokens/s", "mean": 40.5, "sd": 0.3}]}
                }]
            }),
        );
        let text = super::render(&info);
        assert!(
            text.contains(
                "      workload pp128/tg32: pp128 123.4 ± 5.6 tokens/s, tg32 40.5 ± 0.3 tokens/s \
                 (2 threads, 5 repetitions), digest 121212121212, granary-verify 0.1.0\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("      smaller declared workload: pp512/tg128 needs 512 positions; the model has 256\n"),
            "{text}"
        );
    }
}
