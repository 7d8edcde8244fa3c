# Shared by the bench scripts: `source "$(dirname "$0")/lib.sh"`.

# replace_section TITLE FILE: puts FILE's text in BENCHMARKS.md as the section "## TITLE",
# replacing the one there (up to the next "## "), or appended when there is none.
replace_section() {
  python3 - "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/BENCHMARKS.md" "$1" "$2" <<'PY'
import re, sys, pathlib
path, title, section = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3]).read_text()
text = path.read_text() if path.exists() else "# Benchmarks\n"
pattern = re.compile(r"^## " + re.escape(title) + r"\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
path.write_text(text)
PY
}
