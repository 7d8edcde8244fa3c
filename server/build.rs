//! Embeds the web pages' templates (`templates/`) and static files (`static/`) in the
//! binary, so that a `granary-server` copied alone onto a machine serves its pages.
//! Writes `$OUT_DIR/embedded_web.rs`: one `include_str!`/`include_bytes!` per file, so
//! the bytes live in the binary and nothing is read from the source tree at run time.
//! `server/src/web/templates.rs` includes it; `--templates-dir` and `--static-dir`
//! read from disk instead (for development).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .parent()
        .expect("the server crate is in the workspace");
    let templates = root.join("templates");
    let statics = root.join("static");
    // A directory given here is watched recursively: an added, removed or changed file
    // rebuilds the embedded copies.
    println!("cargo::rerun-if-changed={}", templates.display());
    println!("cargo::rerun-if-changed={}", statics.display());

    let mut out = String::from("// Written by server/build.rs.\n\n");
    out.push_str("/// Every `*.html` under `templates/`: (name relative to it, text).\n");
    out.push_str("pub static TEMPLATES: &[(&str, &str)] = &[\n");
    for (name, path) in files(&templates) {
        if name.ends_with(".html") {
            writeln!(out, "    ({name:?}, include_str!({path:?})),").unwrap();
        }
    }
    out.push_str("];\n\n");
    out.push_str("/// Every file under `static/`: (name relative to it, bytes).\n");
    out.push_str("pub static STATIC_FILES: &[(&str, &[u8])] = &[\n");
    for (name, path) in files(&statics) {
        writeln!(out, "    ({name:?}, include_bytes!({path:?})),").unwrap();
    }
    out.push_str("];\n");

    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    std::fs::write(dest.join("embedded_web.rs"), out).expect("OUT_DIR is writable");
}

/// Every file under `dir` as (path relative to `dir` with `/` separators, absolute path),
/// sorted so that the generated file is the same on every build.
fn files(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a readable directory entry").path();
            // Editors' swap and backup files (`.name.swp`) are not part of the site.
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
                continue;
            }
            let rel = path.strip_prefix(root).expect("under the root");
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_str().expect("UTF-8 file names"))
                .collect::<Vec<_>>()
                .join("/");
            let abs = path.to_str().expect("a UTF-8 path").to_string();
            out.push((name, abs));
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
