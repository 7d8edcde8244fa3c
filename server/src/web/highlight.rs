//! Syntax highlighting for the file viewer, on the server and with CSS classes
//! only (`static/granary.css`: `.k` keys, `.s` strings, `.n` numbers, `.b`
//! literals, `.c` comments). Every byte of the file is HTML-escaped before it
//! is wrapped in a `<span>`, so a hostile file is shown as text, never markup.
//! One `<span class="line">` a line, numbered by CSS.

/// How a text file is highlighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Json,
    Yaml,
    Plain,
}

impl Syntax {
    /// The syntax a path's extension names.
    pub fn of(path: &str) -> Self {
        let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("json" | "jsonl" | "ipynb") => Syntax::Json,
            Some("yaml" | "yml") => Syntax::Yaml,
            _ => Syntax::Plain,
        }
    }
}

/// `text` as escaped, highlighted HTML lines.
pub fn highlight(syntax: Syntax, text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for line in text.split_inclusive('\n') {
        let line = line.trim_end_matches(['\n', '\r']);
        out.push_str("<span class=\"line\">");
        match syntax {
            Syntax::Json => json_line(line, &mut out),
            Syntax::Yaml => yaml_line(line, &mut out),
            Syntax::Plain => escape_into(line, &mut out),
        }
        out.push_str("</span>\n");
    }
    out
}

/// Escapes `&`, `<`, `>`, `"` and `'`.
pub fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

fn span(class: &str, text: &str, out: &mut String) {
    out.push_str("<span class=\"");
    out.push_str(class);
    out.push_str("\">");
    escape_into(text, out);
    out.push_str("</span>");
}

/// The end (exclusive) of a quoted string starting at `start` (its quote), or the line's end.
fn string_end(line: &str, start: usize, quote: u8) -> usize {
    let bytes = line.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The end of a run of bytes that `keep` accepts, from `start`.
fn run_end(line: &str, start: usize, keep: impl Fn(u8) -> bool) -> usize {
    line.as_bytes()[start..]
        .iter()
        .position(|b| !keep(*b))
        .map_or(line.len(), |n| start + n)
}

fn json_line(line: &str, out: &mut String) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' {
            let end = string_end(line, i, b'"').min(line.len());
            let is_key = line[end..].trim_start().starts_with(':');
            span(if is_key { "k" } else { "s" }, &line[i..end], out);
            i = end;
        } else if b == b'-' || b.is_ascii_digit() {
            let end = run_end(line, i + 1, |c| {
                c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')
            });
            span("n", &line[i..end], out);
            i = end;
        } else if b.is_ascii_alphabetic() {
            let end = run_end(line, i, |c| c.is_ascii_alphabetic());
            let word = &line[i..end];
            if matches!(word, "true" | "false" | "null") {
                span("b", word, out);
            } else {
                escape_into(word, out);
            }
            i = end;
        } else {
            // One character, whole (the line is UTF-8; `i` is at a character boundary).
            let c = line[i..].chars().next().unwrap_or(' ');
            escape_into(&line[i..i + c.len_utf8()], out);
            i += c.len_utf8();
        }
    }
}

fn yaml_line(line: &str, out: &mut String) {
    let indent = line.len() - line.trim_start().len();
    escape_into(&line[..indent], out);
    let mut rest = &line[indent..];
    if rest.starts_with('#') {
        span("c", rest, out);
        return;
    }
    if let Some(item) = rest.strip_prefix("- ") {
        out.push_str("- ");
        rest = item;
    }
    // `key: value`: a key is what comes before the first `: ` (or a final `:`) outside quotes.
    let key_end = if rest.starts_with(['"', '\'']) {
        None
    } else {
        rest.find(": ")
            .or_else(|| rest.ends_with(':').then(|| rest.len() - 1))
            .filter(|&k| !rest[..k].contains(" #"))
    };
    if let Some(k) = key_end {
        span("k", &rest[..k], out);
        out.push(':');
        rest = &rest[k + 1..];
    }
    let value_start = rest.len() - rest.trim_start().len();
    escape_into(&rest[..value_start], out);
    let value = &rest[value_start..];
    // A comment after the value.
    let (value, comment) = match value.find(" #") {
        Some(c) if !value.starts_with(['"', '\'']) => (&value[..c], Some(&value[c..])),
        _ => (value, None),
    };
    let class = if value.starts_with(['"', '\'']) {
        Some("s")
    } else if matches!(value, "true" | "false" | "null" | "~" | "yes" | "no") {
        Some("b")
    } else if !value.is_empty() && value.parse::<f64>().is_ok() {
        Some("n")
    } else {
        None
    };
    match class {
        Some(c) => span(c, value, out),
        None => escape_into(value, out),
    }
    if let Some(c) = comment {
        span("c", c, out);
    }
}

#[cfg(test)]
mod tests {
    use super::{Syntax, highlight};

    #[test]
    fn json_keys_strings_numbers_and_literals() {
        let html = highlight(Syntax::Json, "{\"a\": \"b\", \"n\": -1.5e3, \"t\": true}");
        assert_eq!(
            html,
            "<span class=\"line\">{<span class=\"k\">&quot;a&quot;</span>: <span class=\"s\">&quot;b&quot;</span>, \
             <span class=\"k\">&quot;n&quot;</span>: <span class=\"n\">-1.5e3</span>, \
             <span class=\"k\">&quot;t&quot;</span>: <span class=\"b\">true</span>}</span>\n"
        );
    }

    #[test]
    fn yaml_keys_comments_and_values() {
        let html = highlight(Syntax::Yaml, "# c\nlicense: mit # why\nn: 3\n- x: 'y'\n");
        assert!(html.contains("<span class=\"c\"># c</span>"), "{html}");
        assert!(
            html.contains("<span class=\"k\">license</span>: mit<span class=\"c\"> # why</span>"),
            "{html}"
        );
        assert!(
            html.contains("<span class=\"k\">n</span>: <span class=\"n\">3</span>"),
            "{html}"
        );
        assert!(
            html.contains("- <span class=\"k\">x</span>: <span class=\"s\">&#x27;y&#x27;</span>"),
            "{html}"
        );
    }

    #[test]
    fn hostile_text_is_escaped_in_every_syntax() {
        let evil = "<script>alert(1)</script> \"<img src=x onerror=alert(1)>\": '<b>'";
        for syntax in [Syntax::Json, Syntax::Yaml, Syntax::Plain] {
            let html = highlight(syntax, evil);
            assert!(!html.contains("<script"), "{syntax:?}: {html}");
            assert!(!html.contains("<img"), "{syntax:?}: {html}");
            assert!(!html.contains("<b>"), "{syntax:?}: {html}");
        }
    }

    #[test]
    fn multibyte_text_survives() {
        let html = highlight(Syntax::Json, "{\"é\": \"日本\", x: ü}");
        assert!(html.contains("日本") && html.contains("ü"), "{html}");
    }
}
