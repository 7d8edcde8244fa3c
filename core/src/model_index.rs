//! The results a model card reports for itself: the Hub's `model-index`
//! front-matter block, `[{name, results: [{task, dataset, metrics}]}]`. Pages
//! and the CLI show them beside what the registry measured, labelled as
//! self-reported: nothing here checks them.

use serde::Serialize;

/// One self-reported figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reported {
    pub model: String,
    pub task: String,
    pub dataset: String,
    pub metric: String,
    pub value: String,
}

/// The `model-index` results of a card's front matter (at most 20 models, 100
/// results and 100 metrics each, so a hostile card cannot make pages huge).
pub fn self_reported(card: &serde_json::Value) -> Vec<Reported> {
    let text = |v: &serde_json::Value, key: &str| match v.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let mut out = Vec::new();
    let Some(entries) = card.get("model-index").and_then(|m| m.as_array()) else {
        return out;
    };
    for entry in entries.iter().take(20) {
        let model = text(entry, "name");
        for result in entry
            .get("results")
            .and_then(|r| r.as_array())
            .into_iter()
            .flatten()
            .take(100)
        {
            let task = result.get("task").map(|t| {
                let name = text(t, "name");
                if name.is_empty() {
                    text(t, "type")
                } else {
                    name
                }
            });
            let dataset = result.get("dataset").map(|d| {
                let name = text(d, "name");
                if name.is_empty() {
                    text(d, "type")
                } else {
                    name
                }
            });
            for metric in result
                .get("metrics")
                .and_then(|m| m.as_array())
                .into_iter()
                .flatten()
                .take(100)
            {
                let name = text(metric, "name");
                out.push(Reported {
                    model: model.clone(),
                    task: task.clone().unwrap_or_default(),
                    dataset: dataset.clone().unwrap_or_default(),
                    metric: if name.is_empty() {
                        text(metric, "type")
                    } else {
                        name
                    },
                    value: text(metric, "value"),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_model_index() {
        let card = serde_json::json!({"model-index": [{"name": "m", "results": [{
            "task": {"type": "text-generation"},
            "dataset": {"name": "HellaSwag", "type": "hellaswag"},
            "metrics": [{"type": "acc", "value": 0.61}]}]}]});
        let r = self_reported(&card);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (
                r[0].task.as_str(),
                r[0].dataset.as_str(),
                r[0].metric.as_str(),
                r[0].value.as_str()
            ),
            ("text-generation", "HellaSwag", "acc", "0.61")
        );
    }

    #[test]
    fn a_card_without_a_model_index_reports_nothing() {
        assert!(self_reported(&serde_json::json!({"license": "mit"})).is_empty());
        assert!(self_reported(&serde_json::json!({"model-index": "nonsense"})).is_empty());
    }
}
