//! The shape of `server/src` (docs/ARCHITECTURE.md): no import cycle between
//! modules, and the domain never reaches up into a surface.
//!
//! Each file is a module; a module's edges are the `crate::`, `super::` and
//! `self::` paths it names (in `use` trees and inline), resolved to the
//! longest module they start with. A module naming one of its own ancestors
//! is not an edge: a parent declares its children, and they are one unit seen
//! from outside. Inline `#[cfg(test)] mod tests { … }` blocks are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The surfaces: handlers and pages, the router, the accept loop.
const SURFACES: &[&str] = &["routes", "web", "router", "listener", ""];

type Module = Vec<String>;

fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments, string literals and inline test modules.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            '#' if chars.peek() == Some(&'"') => {
                // A raw string, `r#"…"#`.
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '"' && c == '#' {
                        break;
                    }
                    prev = c;
                }
                out.push_str("\"\"");
            }
            '\'' => {
                // A char literal (`'"'`, `'\''`) is skipped; a lifetime is kept.
                let mut ahead = chars.clone();
                match (ahead.next(), ahead.next()) {
                    (Some('\\'), _) => {
                        chars.next();
                        chars.next();
                        for c in chars.by_ref() {
                            if c == '\'' {
                                break;
                            }
                        }
                    }
                    (Some(_), Some('\'')) => {
                        chars.next();
                        chars.next();
                    }
                    _ => out.push(c),
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    strip_test_modules(&out)
}

fn strip_test_modules(code: &str) -> String {
    let mut code = code.to_string();
    while let Some(at) = code.find("#[cfg(test)]") {
        let rest = &code[at..];
        let Some(open) = rest.find('{') else { break };
        let header = &rest[..open];
        if !header.contains("mod ") {
            // A test-only item other than a module: leave it, drop only the attribute.
            code.replace_range(at..at + "#[cfg(test)]".len(), "");
            continue;
        }
        let mut depth = 0;
        let mut end = rest.len();
        for (i, c) in rest[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        code.replace_range(at..at + end, "");
    }
    code
}

/// Expands a `use` tree (`a::{b, c::{d, e as f}, self}`) into its paths.
fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    match tree.find('{') {
        Some(open) if tree.ends_with('}') => {
            let head = tree[..open].trim_end_matches("::").trim();
            let base = join(prefix, head);
            let inner = &tree[open + 1..tree.len() - 1];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&inner[start..i], &base, out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand(&inner[start..], &base, out);
        }
        _ => {
            let item = tree.split(" as ").next().unwrap().trim();
            if item == "self" {
                out.push(prefix.to_string());
            } else {
                out.push(join(prefix, item));
            }
        }
    }
}

fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}::{rest}"),
    }
}

/// Every path the code names that starts at the crate root or relative to the module.
fn paths_named(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    // `use` statements, braces and all.
    while let Some(at) = rest.find("use ") {
        let boundary = at == 0 || !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let after = &rest[at + 4..];
        let Some(end) = after.find(';') else { break };
        if boundary {
            expand(&after[..end].replace(['\n', '\r'], " "), "", &mut paths);
        }
        rest = &after[end..];
    }
    // Inline paths such as `crate::db::models::find(…)`.
    for root in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(root) {
            let start = from + at;
            let boundary = start == 0
                || !code[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':');
            let len = code[start..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(code.len() - start);
            if boundary {
                paths.push(code[start..start + len].trim_end_matches(':').to_string());
            }
            from = start + len.max(1);
        }
    }
    paths
}

/// The module a path points into, if it is a path within this crate.
fn resolve(path: &str, from: &Module, modules: &BTreeSet<Module>) -> Option<Module> {
    let mut segments = path.split("::").filter(|s| !s.is_empty());
    let mut absolute: Module = match segments.next()? {
        "crate" => Vec::new(),
        "self" => from.clone(),
        "super" => from[..from.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    for s in segments {
        if s == "super" {
            absolute.pop();
        } else {
            absolute.push(s.to_string());
        }
    }
    (0..=absolute.len())
        .rev()
        .map(|n| absolute[..n].to_vec())
        .find(|m| modules.contains(m))
}

struct Graph {
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let sources: BTreeMap<Module, String> = files
        .iter()
        .map(|f| {
            (
                module_of(&src, f),
                code_of(&std::fs::read_to_string(f).unwrap()),
            )
        })
        .filter(|(m, _)| !m.iter().any(|s| s == "tests"))
        .collect();
    let modules: BTreeSet<Module> = sources.keys().cloned().collect();
    let mut edges = BTreeMap::new();
    for (module, code) in &sources {
        let targets: BTreeSet<Module> = paths_named(code)
            .iter()
            .filter_map(|p| resolve(p, module, &modules))
            .filter(|t| t != module && !module.starts_with(t))
            .collect();
        edges.insert(module.clone(), targets);
    }
    Graph { edges }
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<Module>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g Module, usize>,
        low: BTreeMap<&'g Module, usize>,
        stack: Vec<&'g Module>,
        found: Vec<Vec<Module>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g Module) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        for w in &s.graph.edges[v] {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.stack.contains(&w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn server_src_has_no_import_cycle() {
    let graph = graph();
    assert!(
        graph.edges.len() > 50,
        "found too few modules: {}",
        graph.edges.len()
    );
    let found = cycles(&graph);
    let described: Vec<String> = found
        .iter()
        .map(|component| {
            component
                .iter()
                .map(|m| {
                    let within: Vec<String> = graph.edges[m]
                        .iter()
                        .filter(|t| component.contains(t))
                        .map(name)
                        .collect();
                    format!("  {} -> {}", name(m), within.join(", "))
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    assert!(
        found.is_empty(),
        "import cycles in server/src:\n{}",
        described.join("\n\n")
    );
}

#[test]
fn the_domain_never_imports_a_surface() {
    let graph = graph();
    let is_surface = |m: &Module| SURFACES.contains(&m.first().map_or("", String::as_str));
    let mut wrong = Vec::new();
    for (module, targets) in &graph.edges {
        if is_surface(module) {
            continue;
        }
        for t in targets.iter().filter(|t| is_surface(t)) {
            wrong.push(format!("{} -> {}", name(module), name(t)));
        }
    }
    assert!(
        wrong.is_empty(),
        "domain modules naming a surface: {wrong:?}"
    );
}

#[test]
fn the_checker_sees_a_cycle() {
    // The checker itself: two modules naming each other, one through a use
    // tree and one inline, are a cycle; a child naming its parent is not.
    let modules: BTreeSet<Module> = [vec![], vec!["a".to_string()], vec!["b".to_string()]]
        .into_iter()
        .collect();
    let a = vec!["a".to_string()];
    let b = vec!["b".to_string()];
    let from_a: BTreeSet<Module> = paths_named(&code_of("use crate::{b::{X, Y as Z}, self};"))
        .iter()
        .filter_map(|p| resolve(p, &a, &modules))
        .filter(|t| *t != a)
        .collect();
    let from_b: BTreeSet<Module> = paths_named(&code_of("fn f() { crate::a::g(); } // crate::b"))
        .iter()
        .filter_map(|p| resolve(p, &b, &modules))
        .filter(|t| *t != b)
        .collect();
    assert!(from_a.contains(&b), "{from_a:?}");
    assert!(from_b.contains(&a), "{from_b:?}");
    let g = Graph {
        edges: [
            (a.clone(), from_a),
            (b.clone(), from_b),
            (vec![], BTreeSet::new()),
        ]
        .into_iter()
        .collect(),
    };
    assert_eq!(cycles(&g).len(), 1);
    let test_only = code_of("#[cfg(test)]\nmod tests { use crate::b::X; }\nfn g() {}");
    assert!(paths_named(&test_only).is_empty(), "{test_only}");
}
