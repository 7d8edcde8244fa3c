//! Model cards: `README.md` with YAML front matter, as on the Hub.

/// The front matter of a card as JSON (`{}` when there is none).
pub fn front_matter(readme: &str) -> Result<serde_json::Value, String> {
    let text = readme.strip_prefix('\u{feff}').unwrap_or(readme);
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
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
    let value = parse_bounded(yaml)?;
    match value {
        serde_json::Value::Object(_) => Ok(value),
        serde_json::Value::Null => Ok(serde_json::json!({})),
        _ => Err("README.md front matter must be a YAML mapping (key: value lines)".into()),
    }
}

/// Parses YAML into JSON, refusing a document whose aliases expand it past
/// what its own size could hold: each alias (`*a`) repeats the node its anchor
/// (`&a`) names, so a few kilobytes can stand for billions of values (the
/// "billion laughs"). A document without aliases always fits: it cannot hold
/// more than a value per two bytes, nor more text than its length.
fn parse_bounded(yaml: &str) -> Result<serde_json::Value, String> {
    let budget = Budget {
        values: std::cell::Cell::new(10_000 + yaml.len() / 2),
        bytes: std::cell::Cell::new(64 * 1024 + yaml.len()),
        exceeded: std::cell::Cell::new(false),
    };
    let result = serde::de::DeserializeSeed::deserialize(
        Bounded(&budget),
        serde_norway::Deserializer::from_str(yaml),
    );
    match result {
        Ok(value) => Ok(value),
        Err(_) if budget.exceeded.get() => Err(format!(
            "README.md front matter expands to more than {} values or {} bytes of text through YAML aliases \
             (`*name` repeats what the anchor `&name` names): write the values out instead",
            10_000 + yaml.len() / 2,
            64 * 1024 + yaml.len()
        )),
        Err(e) => Err(format!("README.md front matter is not valid YAML: {e}")),
    }
}

/// What a front matter may still expand to.
struct Budget {
    values: std::cell::Cell<usize>,
    bytes: std::cell::Cell<usize>,
    exceeded: std::cell::Cell<bool>,
}

impl Budget {
    /// Takes one value and `bytes` of text from the budget.
    fn take<E: serde::de::Error>(&self, bytes: usize) -> Result<(), E> {
        match (
            self.values.get().checked_sub(1),
            self.bytes.get().checked_sub(bytes),
        ) {
            (Some(v), Some(b)) => {
                self.values.set(v);
                self.bytes.set(b);
                Ok(())
            }
            _ => {
                self.exceeded.set(true);
                Err(E::custom("the document expands past its budget"))
            }
        }
    }
}

/// A JSON value deserialized within a [`Budget`] (as `serde_json::Value` does, counting).
#[derive(Clone, Copy)]
struct Bounded<'a>(&'a Budget);

impl<'de> serde::de::DeserializeSeed<'de> for Bounded<'_> {
    type Value = serde_json::Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<serde_json::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Bounded<'_> {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<serde_json::Value, E> {
        self.0.take(0)?;
        Ok(v.into())
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<serde_json::Value, E> {
        self.0.take(0)?;
        Ok(v.into())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<serde_json::Value, E> {
        self.0.take(0)?;
        Ok(v.into())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<serde_json::Value, E> {
        self.0.take(0)?;
        Ok(serde_json::Number::from_f64(v)
            .map_or(serde_json::Value::Null, serde_json::Value::Number))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<serde_json::Value, E> {
        self.0.take(v.len())?;
        Ok(v.into())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<serde_json::Value, E> {
        self.0.take(0)?;
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<serde_json::Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<serde_json::Value, D::Error> {
        serde::de::DeserializeSeed::deserialize(self, d)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<serde_json::Value, A::Error> {
        self.0.take(0)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<serde_json::Value, A::Error> {
        self.0.take(0)?;
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            self.0.take(key.len())?;
            out.insert(key, map.next_value_seed(self)?);
        }
        Ok(serde_json::Value::Object(out))
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
        assert_eq!(
            front_matter("# no front matter").unwrap(),
            serde_json::json!({})
        );
        assert_eq!(
            field(
                &front_matter("---\nlicense: [apache-2.0]\n---").unwrap(),
                "license"
            ),
            Some("apache-2.0")
        );
    }

    #[test]
    fn refuses_broken_front_matter() {
        assert!(
            front_matter("---\nlicense: mit\n")
                .unwrap_err()
                .contains("never closes")
        );
        assert!(
            front_matter("---\nlicense: [mit\n---\n")
                .unwrap_err()
                .contains("not valid YAML")
        );
        assert!(
            front_matter("---\n- a\n- b\n---\n")
                .unwrap_err()
                .contains("mapping")
        );
    }

    /// A card whose aliases expand to `anchor` × `aliases` values.
    fn alias_bomb(anchor: usize, aliases: usize) -> String {
        let items = vec!["lol"; anchor].join(", ");
        format!(
            "---\nlicense: mit\nbase: &a [{items}]\nbomb:\n{}---\n",
            "  - *a\n".repeat(aliases)
        )
    }

    #[test]
    fn refuses_alias_bombs_quickly() {
        let start = std::time::Instant::now();
        // Wide: one big anchor repeated (within the YAML parser's own repetition limit).
        let err = front_matter(&alias_bomb(2_000, 20_000)).unwrap_err();
        assert!(err.contains("aliases"), "{err}");
        // Deep: the classic billion laughs.
        let mut yaml = String::from(
            "---\nlicense: mit\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        );
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            yaml.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        yaml.push_str("---\n");
        let err = front_matter(&yaml).unwrap_err();
        assert!(
            err.contains("aliases") || err.contains("repetition"),
            "{err}"
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        // A card that uses an alias or two within reason is fine.
        let card = front_matter(&alias_bomb(3, 4)).unwrap();
        assert_eq!(card["bomb"][3][2], "lol");
        assert_eq!(field(&card, "license"), Some("mit"));
    }
}
