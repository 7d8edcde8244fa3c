//! `granary info OWNER/NAME[:REF | @REVISION]`: a revision's facts. The JSON
//! is passed through as the server sends it, unknown fields (such as
//! `verification`) included.

use anyhow::Result;
use serde_json::Value;

use crate::cli::InfoArgs;
use crate::context::Ctx;
use crate::model_ref::{encode_segment, ModelRef};
use crate::progress::{human_bytes, human_count};

pub async fn run(ctx: &Ctx, args: InfoArgs) -> Result<()> {
    let target = ModelRef::parse(&args.model)?;
    let mut url = target.api_base();
    if let Some(rev) = &target.rev {
        url.push_str(&format!("?ref={}", encode_segment(&rev.to_string())));
    }
    let info: Value = ctx.client.get_json(&url, &format!("cannot read {}", args.model)).await?;
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
    let permissive = if rev.get("permissive").and_then(Value::as_bool) == Some(true) { " (permissive)" } else { "" };
    let params: Vec<String> = rev
        .get("parameters")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k} {}", human_count(v.as_u64().unwrap_or(0)))).collect())
        .unwrap_or_default();
    let files = rev.get("files").and_then(Value::as_array).cloned().unwrap_or_default();
    out.push_str(&format!("  revision    {}\n", s(rev, "id")));
    out.push_str(&format!("  license     {license}{permissive}\n"));
    out.push_str(&format!("  parameters  {} ({})\n", human_count(n(rev, "parameter_total")), params.join(", ")));
    out.push_str(&format!("  size        {} in {} files\n", human_bytes(n(rev, "total_size")), files.len()));
    let when = granary_core::time::rfc3339(rev.get("created_at").and_then(Value::as_i64).unwrap_or(0));
    out.push_str(&format!("  committed   {} by {}: {}\n", &when[..16].replace('T', " "), s(rev, "author"), s(rev, "message")));
    out.push_str("  files\n");
    for f in &files {
        out.push_str(&format!("    {:>10}  {}  {}\n", human_bytes(n(f, "size")), s(f, "sha256"), s(f, "path")));
    }
    let verification = rev.get("verification").or_else(|| info.get("verification"));
    if let Some(v) = verification.filter(|v| !v.is_null()) {
        out.push_str("  verification\n");
        let text = serde_json::to_string_pretty(v).unwrap_or_default();
        for line in text.lines() {
            out.push_str(&format!("    {line}\n"));
        }
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
}
