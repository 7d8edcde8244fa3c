//! Model cards to safe HTML: the YAML front matter is split off (the page
//! shows it as badges), the Markdown body is rendered with tables, code and
//! footnotes, headings are moved one level down (the page's own `<h1>` is the
//! model's name), and the result is sanitised with ammonia, so a card's
//! `<script>`, `javascript:` links, event attributes, styles and iframes are
//! inert.

use std::collections::HashSet;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// The Markdown body of a card, without its front matter block.
pub fn strip_front_matter(readme: &str) -> &str {
    let text = readme.strip_prefix('\u{feff}').unwrap_or(readme);
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return text;
    };
    if let Some(rest) = rest.strip_prefix("---") {
        return rest.trim_start_matches(['\r', '\n']);
    }
    for sep in ["\n---\n", "\n---\r\n", "\r\n---\r\n"] {
        if let Some(i) = rest.find(sep) {
            return &rest[i + sep.len()..];
        }
    }
    if rest.ends_with("\n---") || rest.ends_with("\n---\r") {
        return "";
    }
    text
}

/// Renders a card's Markdown body to sanitised HTML. Relative links and
/// images point into the revision's files under `files_base`
/// (`/api/v1/models/{owner}/{name}/files/{rev}/`).
pub fn markdown_to_safe_html(markdown: &str, files_base: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: demote(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(demote(level))),
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    sanitize(&html, files_base)
}

fn demote(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H2,
        HeadingLevel::H2 => HeadingLevel::H3,
        HeadingLevel::H3 => HeadingLevel::H4,
        HeadingLevel::H4 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

/// Sanitises HTML from a card: ammonia's safe defaults (no script, style,
/// iframe, form or event attribute; only http, https and mailto URLs), links
/// marked `nofollow`, relative URLs resolved against the revision's files.
pub fn sanitize(html: &str, files_base: &str) -> String {
    let mut builder = ammonia::Builder::default();
    builder
        .link_rel(Some("nofollow noopener noreferrer"))
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .add_tag_attributes("code", ["class"])
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tags(["input"])
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            // Task-list checkboxes only, and never editable.
            ("input", "type") if value != "checkbox" => None,
            ("code", "class") if !value.starts_with("language-") => None,
            _ => Some(value.into()),
        });
    let base = format!("http://granary.invalid{files_base}");
    match url::Url::parse(&base) {
        Ok(url) => {
            builder.url_relative(ammonia::UrlRelative::Custom(Box::new(RelativeToFiles {
                base: url,
                files_base: files_base.to_string(),
            })));
        }
        Err(_) => {
            builder.url_relative(ammonia::UrlRelative::Deny);
        }
    }
    builder.clean(html).to_string()
}

/// Resolves a card's relative URLs (`images/plot.png`, `./LICENSE`) to the
/// revision's file downloads; fragment links (`#usage`) stay as they are.
struct RelativeToFiles {
    base: url::Url,
    files_base: String,
}

impl ammonia::UrlRelativeEvaluate<'_> for RelativeToFiles {
    fn evaluate<'a>(&self, url: &'a str) -> Option<std::borrow::Cow<'a, str>> {
        if url.starts_with('#') {
            return Some(url.into());
        }
        if url.starts_with('/') {
            // Site-absolute links stay on this site.
            return Some(url.into());
        }
        let joined = self.base.join(url).ok()?;
        let path = joined.path();
        // A `../` that climbs out of the revision's files is dropped.
        if !path.starts_with(self.files_base.as_str()) {
            return None;
        }
        let mut out = path.to_string();
        if let Some(q) = joined.query() {
            out.push('?');
            out.push_str(q);
        }
        if let Some(f) = joined.fragment() {
            out.push('#');
            out.push_str(f);
        }
        Some(out.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "/api/v1/models/alice/m/files/abc/";

    #[test]
    fn strips_front_matter() {
        assert_eq!(
            strip_front_matter("---\nlicense: mit\n---\n# Hi\n"),
            "# Hi\n"
        );
        assert_eq!(strip_front_matter("# Hi\n"), "# Hi\n");
        assert_eq!(
            strip_front_matter("---\r\nlicense: mit\r\n---\r\nbody"),
            "body"
        );
        assert_eq!(strip_front_matter("---\nlicense: mit\n---"), "");
    }

    #[test]
    fn renders_tables_code_and_demotes_headings() {
        let html = markdown_to_safe_html(
            "# T\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```rust\nfn x() {}\n```\n",
            BASE,
        );
        assert!(html.contains("<h2>T</h2>"), "{html}");
        assert!(
            html.contains("<table>") && html.contains("<td>1</td>"),
            "{html}"
        );
        assert!(html.contains("<code class=\"language-rust\">"), "{html}");
    }

    #[test]
    fn makes_hostile_html_inert() {
        let card = "<script>document.title='x'</script>\n\n\
            <img src=x onerror=\"alert(1)\">\n\n\
            [click](javascript:alert(1))\n\n\
            <iframe src=\"https://evil.example\"></iframe>\n\n\
            <a href=\"https://ok.example\" onclick=\"alert(1)\" style=\"color:red\">ok</a>\n\n\
            <form action=\"/x\"><input type=\"text\" name=\"q\"></form>\n";
        let html = markdown_to_safe_html(card, BASE);
        for bad in [
            "<script",
            "onerror",
            "javascript:",
            "<iframe",
            "onclick",
            "style=",
            "<form",
            "type=\"text\"",
        ] {
            assert!(!html.contains(bad), "{bad} survived in {html}");
        }
        assert!(html.contains("href=\"https://ok.example\""), "{html}");
        assert!(
            html.contains("rel=\"nofollow noopener noreferrer\""),
            "{html}"
        );
    }

    #[test]
    fn resolves_relative_urls_into_the_revision() {
        let html = markdown_to_safe_html(
            "![plot](images/plot.png) [lic](./LICENSE) [up](../../x) [s](#usage)",
            BASE,
        );
        assert!(
            html.contains("src=\"/api/v1/models/alice/m/files/abc/images/plot.png\""),
            "{html}"
        );
        assert!(
            html.contains("href=\"/api/v1/models/alice/m/files/abc/LICENSE\""),
            "{html}"
        );
        assert!(html.contains("href=\"#usage\""), "{html}");
        assert!(!html.contains("../"), "{html}");
    }
}
