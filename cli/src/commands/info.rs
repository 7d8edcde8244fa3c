//! `granary info OWNER/NAME[:REF | @REVISION]`: a revision's facts. The JSON
//! is passed through as the server sends it, unknown fields (such as
//! `verification`) included.

use anyhow::Result;
use granary_core::api::{Evaluation, Workload};
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
    let info: Value = ctx
        .client
        .get_json(&url, &format!("cannot read {}", args.model))
        .await?;
    if ctx.global.json {
        return ctx.print_json(&info);
    }
    print!("{}", render(&info));
    Ok(())
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn n(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// The human form of a `ModelInfo`.
pub fn render(info: &Value) -> String {
    let mut out = format!("{}\n", s(info, "id"));
    let Some(rev) = info.get("revision").filter(|r| r.is_object()) else {
        out.push_str("  no revision yet\n");
        return out;
    };
    let license = rev.get("license").map(|l| s(l, "id")).unwrap_or("");
    let permissive = if rev.get("permissive").and_then(Value::as_bool) == Some(true) {
        " (permissive)"
    } else {
        ""
    };
    let params: Vec<String> = rev
        .get("parameters")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k} {}", human_count(v.as_u64().unwrap_or(0))))
                .collect()
        })
        .unwrap_or_default();
    let files = rev
        .get("files")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    out.push_str(&format!("  revision    {}\n", s(rev, "id")));
    out.push_str(&format!("  license     {license}{permissive}\n"));
    out.push_str(&format!(
        "  parameters  {} ({})\n",
        human_count(n(rev, "parameter_total")),
        params.join(", ")
    ));
    out.push_str(&format!(
        "  size        {} in {} files\n",
        human_bytes(n(rev, "total_size")),
        files.len()
    ));
    let when =
        granary_core::time::rfc3339(rev.get("created_at").and_then(Value::as_i64).unwrap_or(0));
    out.push_str(&format!(
        "  committed   {} by {}: {}\n",
        &when[..16].replace('T', " "),
        s(rev, "author"),
        s(rev, "message")
    ));
    out.push_str("  files\n");
    for f in &files {
        out.push_str(&format!(
            "    {:>10}  {}  {}\n",
            human_bytes(n(f, "size")),
            s(f, "sha256"),
            s(f, "path")
        ));
    }
    let reported = rev
        .get("card")
        .map(model_index::self_reported)
        .unwrap_or_default();
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
    let verification = rev.get("verification").or_else(|| info.get("verification"));
    if let Some(v) = verification.filter(|v| !v.is_null()) {
        out.push_str("  verification\n");
        let runs = match v {
            Value::Array(runs) => runs.iter().collect(),
            run => vec![run],
        };
        for run in runs {
            out.push_str(&summary(run));
        }
        let text = serde_json::to_string_pretty(v).unwrap_or_default();
        for line in text.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}

/// One run in a line or two: status, where it ran, the reason (for `degraded`,
/// what looked absurd), then one line per evaluation.
fn summary(run: &Value) -> String {
    let mut out = format!("    {:<9} {}", s(run, "status"), s(run, "device"));
    if !s(run, "architecture").is_empty() {
        let dtype = match s(run, "converted_from") {
            "" => s(run, "dtype").to_string(),
            from => format!("{}, converted from {from}", s(run, "dtype")),
        };
        out.push_str(&format!(" ({} {dtype})", s(run, "architecture")));
    }
    if !s(run, "reason").is_empty() {
        out.push_str(&format!(": {}", s(run, "reason")));
    }
    out.push('\n');
    let evaluations: Vec<Evaluation> = run
        .get("evaluations")
        .and_then(|e| serde_json::from_value(e.clone()).ok())
        .unwrap_or_default();
    for e in evaluations {
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
fn workload(run: &Value) -> String {
    let Some(w) = run
        .get("workload")
        .and_then(|w| serde_json::from_value::<Workload>(w.clone()).ok())
    else {
        return String::new();
    };
    let digest: String = w.digest.chars().take(12).collect();
    let mut out = format!(
        "      workload {}: {}, digest {digest}",
        w.name,
        w.summary()
    );
    if !s(run, "verifier_version").is_empty() {
        out.push_str(&format!(", granary-verify {}", s(run, "verifier_version")));
    }
    out.push('\n');
    if let Some(why) = &w.reduced {
        out.push_str(&format!("      smaller declared workload: {why}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_revision_facts_and_unknown_verification() {
        let info = serde_json::json!({
            "id": "alice/tiny",
            "revision": {
                "id": "ab".repeat(32), "license": {"id": "Apache-2.0"}, "permissive": true,
                "parameters": {"F32": 1500}, "parameter_total": 1500, "total_size": 6000,
                "created_at": 0, "author": "alice", "message": "first",
                "files": [{"path": "w.safetensors", "size": 6000, "sha256": "cd".repeat(32)}],
                "verification": {"status": "passed"}
            }
        });
        let text = super::render(&info);
        assert!(text.contains("Apache-2.0 (permissive)"));
        assert!(text.contains("1.5K (F32 1.5K)"));
        assert!(text.contains("w.safetensors"));
        assert!(text.contains("\"status\": \"passed\""));
    }

    #[test]
    fn a_degraded_run_shows_its_reason_and_evaluation() {
        let reason = "runs, but its embeddings do not tell paraphrases from unrelated sentences";
        let info = serde_json::json!({
            "id": "alice/broken",
            "revision": {
                "id": "ab".repeat(32), "created_at": 0, "files": [],
                "verification": [{
                    "status": "degraded", "device": "cpu: Test", "architecture": "bert", "dtype": "F32",
                    "reason": reason,
                    "evaluations": [{"name": "sentence-pairs-v1", "digest": "90".repeat(32),
                        "metric": "spearman", "value": -0.55, "threshold": 0.2, "verdict": "degraded"}]
                }]
            }
        });
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
        let info = serde_json::json!({
            "id": "alice/smol",
            "revision": {
                "id": "ab".repeat(32), "created_at": 0, "files": [],
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
            }
        });
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
        let info = serde_json::json!({
            "id": "alice/tiny",
            "revision": {
                "id": "ab".repeat(32), "created_at": 0, "files": [],
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
            }
        });
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
