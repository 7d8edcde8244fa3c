//! Model cards: `README.md` with YAML front matter, as on the Hub.

/// The front matter of a card as JSON (`{}` when there is none).
pub fn front_matter(readme: &str) -> Result<serde_json::Value, String> {
    let text = readme.strip_prefix('\u{feff}').unwrap_or(readme);
    let Some(rest) = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n")) else {
        return Ok(serde_json::json!({}));
    };
    let end = rest
        .find("\n---\n")
        .map(|i| i + 1)
        .or_else(|| rest.find("\r\n---\r\n").map(|i| i + 2))
        .or_else(|| rest.strip_suffix("\n---").map(|r| r.len() + 1))
        .or_else(|| rest.starts_with("---").then_some(0))
        .ok_or("README.md starts a YAML front matter block (`---`) but never closes it")?;
    let yaml = &rest[..end];
    if yaml.trim().is_empty() {
        return Ok(serde_json::json!({}));
    }
    let value: serde_json::Value = serde_norway::from_str(yaml)
        .map_err(|e| format!("README.md front matter is not valid YAML: {e}"))?;
    match value {
        serde_json::Value::Object(_) => Ok(value),
        serde_json::Value::Null => Ok(serde_json::json!({})),
        _ => Err("README.md front matter must be a YAML mapping (key: value lines)".into()),
    }
}

/// A string field of the front matter (the first item when it is a list).
pub fn field<'a>(card: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    match card.get(key)? {
        serde_json::Value::String(s) => Some(s.as_str()),
        serde_json::Value::Array(items) => items.first()?.as_str(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_front_matter() {
        let card = front_matter("---\nlicense: mit\ntags:\n  - llama\n---\n# Title\n").unwrap();
        assert_eq!(field(&card, "license"), Some("mit"));
        assert_eq!(card["tags"][0], "llama");
        assert_eq!(front_matter("# no front matter").unwrap(), serde_json::json!({}));
        assert_eq!(field(&front_matter("---\nlicense: [apache-2.0]\n---").unwrap(), "license"), Some("apache-2.0"));
    }

    #[test]
    fn refuses_broken_front_matter() {
        assert!(front_matter("---\nlicense: mit\n").unwrap_err().contains("never closes"));
        assert!(front_matter("---\nlicense: [mit\n---\n").unwrap_err().contains("not valid YAML"));
        assert!(front_matter("---\n- a\n- b\n---\n").unwrap_err().contains("mapping"));
    }
}
