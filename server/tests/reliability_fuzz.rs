//! Fuzz targets on stable Rust, run as tests: a small mutation fuzzer
//! (byte flips, interesting values, dictionary tokens, splices, and
//! structure fix-ups such as the safetensors length prefix) that keeps an
//! input in its corpus when it produces an outcome not seen before. Targets:
//!
//! - `safetensors`: `granary_core::safetensors_header::inspect_bytes`
//! - `commit_request`: serde of `CommitRequest` and `Manifest` (round trips)
//! - `paths`: `RepoPath::parse` + `check_path_set`
//! - `front_matter`: `granary_server::publish::card::front_matter`
//! - `hf_commit`: the Hub's NDJSON commit body, through the real router
//!
//! Each target replays its seeds (`fuzz/corpus/<target>/`) and every former
//! crash (`fuzz/regressions/<target>/`), then fuzzes for `GRANARY_FUZZ_SECS`
//! seconds (default 2). A panic, a broken property or an input slower than
//! `GRANARY_FUZZ_SLOW_MS` (default 2000) fails the test and is written to
//! `fuzz/crashes/<target>/` to be moved into `fuzz/regressions/`.
//! Long runs: `fuzz/run.sh`.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use granary_core::api::CommitRequest;
use granary_core::manifest::Manifest;
use granary_core::paths::check_path_set;
use granary_core::safetensors_header::{HeaderError, inspect_bytes};
use granary_core::{RepoPath, Sha256};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A xorshift generator: fast, seedable, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

const INTERESTING: &[&[u8]] = &[
    b"0",
    b"-1",
    b"1",
    b"255",
    b"65536",
    b"4294967295",
    b"4294967296",
    b"9223372036854775807",
    b"18446744073709551615",
    b"18446744073709551616",
    b"1e999",
    b"-0",
    b"0.5",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b"\"\"",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"\xff",
    b"\xc3\x28",
    b"\x00",
    b"\n",
    b"\r\n",
    b"\\",
    b"/",
    b"..",
    b"../",
    b"%2e%2e",
    b"\"a\":1,",
    b"[[[[[[[[",
    b"{{{{",
    b"}}}}",
    b"\"",
    b",",
    b":",
    b"~",
    b"*",
    b"&a",
    b"!!binary",
];

/// One mutation of `input`, possibly splicing another corpus entry.
fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>], dict: &[&[u8]]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(10) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = [
                    0u8, 0xff, b'"', b'{', b'}', b'[', b']', b',', b':', b'\n', b'\\', b'/', b'.',
                    b'0', b'9', b' ',
                ][rng.below(16)];
            }
            2 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(16)).min(len);
                v.drain(a..b);
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(32)).min(len);
                let chunk = v[a..b].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            4 | 5 => {
                let token: &[u8] = if rng.chance(2) && !dict.is_empty() {
                    dict[rng.below(dict.len())]
                } else {
                    INTERESTING[rng.below(INTERESTING.len())]
                };
                let at = rng.below(len + 1);
                if rng.chance(2) && at < len {
                    let end = (at + token.len()).min(len);
                    v.splice(at..end, token.iter().copied());
                } else {
                    v.splice(at..at, token.iter().copied());
                }
            }
            6 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                let at = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                let to = (from + rng.below(64)).min(other.len());
                v.truncate(at);
                v.extend_from_slice(&other[from..to]);
            }
            7 => {
                // Replace a run of digits with an interesting number.
                if let Some(start) = (0..len)
                    .map(|_| rng.below(len))
                    .find(|&i| v[i].is_ascii_digit())
                {
                    let end = start + v[start..].iter().take_while(|b| b.is_ascii_digit()).count();
                    let n = INTERESTING[rng.below(12)];
                    v.splice(start..end, n.iter().copied());
                }
            }
            8 => {
                let n = 1 + rng.below(8);
                let at = rng.below(len + 1);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(at..at, bytes);
            }
            _ => {
                if len > 1 && rng.chance(4) {
                    v.truncate(rng.below(len));
                }
            }
        }
    }
    v.truncate(1 << 20);
    v
}

/// A target: runs one input; `Err` is a broken property. The `String` is a
/// signature of the outcome (new signatures grow the corpus).
type Target<'a> = dyn FnMut(&[u8]) -> Result<String, String> + 'a;

struct Report {
    execs: u64,
    corpus: usize,
    failures: Vec<(String, PathBuf)>,
}

fn read_dir_files(dir: &std::path::Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect();
    out.sort();
    out
}

fn run_target(
    name: &str,
    extra_seeds: Vec<Vec<u8>>,
    dict: &[&[u8]],
    target: &mut Target<'_>,
) -> Report {
    let secs = env_u64("GRANARY_FUZZ_SECS", 2);
    let slow = Duration::from_millis(env_u64("GRANARY_FUZZ_SLOW_MS", 2000));
    let seed = env_u64(
        "GRANARY_FUZZ_SEED",
        0x9E37_79B9_7F4A_7C15 ^ name.len() as u64,
    );
    let mut rng = Rng(seed | 1);
    let crash_dir = fuzz_dir().join("crashes").join(name);
    let mut failures = Vec::new();
    let mut seen = HashSet::new();
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    let mut execs = 0u64;

    let mut exec =
        |input: &[u8], failures: &mut Vec<(String, PathBuf)>, execs: &mut u64| -> Option<String> {
            *execs += 1;
            let start = Instant::now();
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| target(input)));
            let took = start.elapsed();
            let failure = match &outcome {
                Err(p) => Some(format!(
                    "panic: {}",
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default()
                )),
                Ok(Err(broken)) => Some(format!("property: {broken}")),
                Ok(Ok(_)) if took > slow => Some(format!("slow: {took:?}")),
                Ok(Ok(_)) => None,
            };
            if let Some(why) = failure {
                std::fs::create_dir_all(&crash_dir).unwrap();
                let path = crash_dir.join(&Sha256::of(input).hex()[..16]);
                std::fs::write(&path, input).unwrap();
                eprintln!("{name}: {why} (input saved to {})", path.display());
                failures.push((why, path));
                return None;
            }
            outcome.ok().and_then(Result::ok)
        };

    // Seeds and former crashes: regression tests.
    let mut seeds: Vec<Vec<u8>> = read_dir_files(&fuzz_dir().join("corpus").join(name))
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    seeds.extend(extra_seeds);
    for (_, bytes) in read_dir_files(&fuzz_dir().join("regressions").join(name)) {
        exec(&bytes, &mut failures, &mut execs);
    }
    for s in &seeds {
        if let Some(sig) = exec(s, &mut failures, &mut execs) {
            seen.insert(sig);
        }
        corpus.push(s.clone());
    }
    assert!(!corpus.is_empty(), "{name} has no seeds");
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline && failures.len() < 20 {
        for _ in 0..64 {
            let base = &corpus[rng.below(corpus.len())];
            let input = mutate(&mut rng, base, &corpus, dict);
            if let Some(sig) = exec(&input, &mut failures, &mut execs)
                && seen.insert(sig)
                && corpus.len() < 4096
            {
                corpus.push(input);
            }
        }
    }
    eprintln!(
        "fuzz {name}: {execs} execs in {secs} s, corpus {} ({} outcomes), {} failures",
        corpus.len(),
        seen.len(),
        failures.len()
    );
    Report {
        execs,
        corpus: corpus.len(),
        failures,
    }
}

fn assert_clean(name: &str, r: Report) {
    assert!(r.execs > 0 && r.corpus > 0);
    assert!(
        r.failures.is_empty(),
        "{name}: {} failures, first: {:?}",
        r.failures.len(),
        r.failures[0]
    );
}

/// An outcome signature: the error text without digits (so sizes do not count as new).
fn signature(prefix: &str, text: &str) -> String {
    let t: String = text
        .chars()
        .filter(|c| !c.is_ascii_digit())
        .take(28)
        .collect();
    format!("{prefix}:{t}")
}

// ---- safetensors ----

fn safetensors_seeds() -> Vec<Vec<u8>> {
    use granary_core::safetensors_header::build;
    vec![
        build(&[("a", "F32", vec![2, 2], vec![0; 16])]),
        build(&[
            ("w", "BF16", vec![3], vec![0; 6]),
            ("b", "U8", vec![1], vec![7]),
            ("z", "F64", vec![0], vec![]),
        ]),
        build(&[]),
        {
            let json = br#"{"__metadata__":{"format":"pt"},"x":{"dtype":"I64","shape":[1,1],"data_offsets":[0,8]}}"#;
            let mut f = (json.len() as u64).to_le_bytes().to_vec();
            f.extend_from_slice(json);
            f.extend_from_slice(&[0; 8]);
            f
        },
    ]
}

fn safetensors_target(input: &[u8]) -> Result<String, String> {
    // Half the time, fix the length prefix so mutations reach the JSON.
    let result = inspect_bytes(input);
    match result {
        Ok(summary) => {
            let n = u64::from_le_bytes(input[..8].try_into().unwrap());
            let data = input.len() as u64 - 8 - n;
            let params = summary.total_parameters();
            if params > data.saturating_mul(8) && data > 0 {
                return Err(format!("{params} parameters in {data} bytes"));
            }
            if summary.parameters.values().sum::<u64>() != params {
                return Err("parameter total differs from the sum per dtype".into());
            }
            Ok(format!(
                "ok:{}:{}",
                summary.tensors.min(3),
                summary.parameters.len()
            ))
        }
        Err(HeaderError::Invalid(msg)) => Ok(signature("invalid", &msg)),
        Err(e) => Ok(signature("err", &format!("{e:?}"))),
    }
}

fn fix_prefix(input: &[u8]) -> Vec<u8> {
    // Treat the input as header JSON + data: `{...}` then bytes; prefix = header length.
    let split = input
        .iter()
        .rposition(|&b| b == b'}')
        .map(|i| i + 1)
        .unwrap_or(input.len());
    let mut out = (split as u64).to_le_bytes().to_vec();
    out.extend_from_slice(input);
    out
}

#[test]
fn fuzz_safetensors_header() {
    let dict: &[&[u8]] = &[
        b"\"dtype\"",
        b"\"shape\"",
        b"\"data_offsets\"",
        b"\"__metadata__\"",
        b"\"F32\"",
        b"\"F16\"",
        b"\"BF16\"",
        b"\"U8\"",
        b"\"I64\"",
        b"\"BOOL\"",
        b"\"F8_E4M3\"",
        b"\"F4\"",
        b"\"F6_E2M3\"",
        b"\"C64\"",
        b"[0,0]",
        b"[]",
        b"[0,18446744073709551615]",
        b"{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}",
    ];
    // Inputs are headers + data; the target is run on them with a correct
    // prefix, and on the raw bytes (prefix fuzzed too).
    let seeds: Vec<Vec<u8>> = safetensors_seeds()
        .into_iter()
        .flat_map(|s| [s[8..].to_vec(), s])
        .collect();
    let mut toggle = 0u64;
    let r = run_target("safetensors", seeds, dict, &mut |input| {
        toggle += 1;
        if toggle.is_multiple_of(2) {
            safetensors_target(&fix_prefix(input))
        } else {
            safetensors_target(input)
        }
    });
    assert_clean("safetensors", r);
}

// ---- commit request and manifest ----

fn commit_seeds() -> Vec<Vec<u8>> {
    let sha = Sha256::of(b"x").hex();
    vec![
        format!(r#"{{"branch":"main","parent":null,"message":"m","license":"mit","files":[{{"path":"a/b.txt","size":1,"sha256":"{sha}"}}]}}"#).into_bytes(),
        format!(r#"{{"parent":"{sha}","message":"","files":[],"private":true,"license_name":"x"}}"#).into_bytes(),
        format!(
            r#"{{"format":1,"parent":null,"author":"alice","message":"m","created_at":1,"license":{{"id":"MIT","name":null,"permissive":true,"osi":true}},"files":[{{"path":"a","size":1,"sha256":"{sha}","safetensors":{{"tensors":1,"parameters":{{"F32":1}}}}}}]}}"#
        )
        .into_bytes(),
    ]
}

fn commit_target(input: &[u8]) -> Result<String, String> {
    let mut sig = String::new();
    match serde_json::from_slice::<CommitRequest>(input) {
        Ok(req) => {
            for f in &req.files {
                if RepoPath::parse(f.path.as_str()).is_err() {
                    return Err(format!(
                        "an invalid path deserialised: {:?}",
                        f.path.as_str()
                    ));
                }
            }
            let again = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
            let back: CommitRequest =
                serde_json::from_slice(&again).map_err(|e| format!("round trip: {e}"))?;
            if serde_json::to_vec(&back).unwrap() != again {
                return Err("CommitRequest does not round-trip".into());
            }
            sig.push_str("req-ok");
        }
        Err(e) => sig.push_str(&signature("req", &e.to_string())),
    }
    match serde_json::from_slice::<Manifest>(input) {
        Ok(mut m) => {
            let bytes = m.canonical_bytes();
            let mut back: Manifest = serde_json::from_slice(&bytes)
                .map_err(|e| format!("canonical bytes do not parse: {e}"))?;
            if back.canonical_bytes() != bytes {
                return Err("canonical bytes are not canonical".into());
            }
            let _ = m.total_size();
            let _ = m.parameters();
            sig.push_str("/man-ok");
        }
        Err(e) => sig.push_str(&signature("/man", &e.to_string())),
    }
    Ok(sig)
}

#[test]
fn fuzz_commit_request_and_manifest() {
    let dict: &[&[u8]] = &[
        b"\"path\"",
        b"\"size\"",
        b"\"sha256\"",
        b"\"files\"",
        b"\"parent\"",
        b"\"branch\"",
        b"\"license\"",
        b"\"format\"",
        b"\"safetensors\"",
        b"\"parameters\"",
        b"\"tensors\"",
        b"\"chunks\"",
        b"\"created_at\"",
        b"\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"",
        b"\"../x\"",
        b"\"A.txt\"",
    ];
    let r = run_target("commit_request", commit_seeds(), dict, &mut commit_target);
    assert_clean("commit_request", r);
}

// ---- paths ----

fn paths_target(input: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(input);
    let mut ok = Vec::new();
    let mut sig = String::new();
    for line in text.split('\n') {
        match RepoPath::parse(line) {
            Ok(p) => {
                let s = p.as_str();
                let broken = s.is_empty()
                    || s.len() > granary_core::paths::MAX_PATH_LEN
                    || s.starts_with('/')
                    || s.contains('\\')
                    || s.chars().any(char::is_control)
                    || s.split('/')
                        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
                    || s.split('/').count() > granary_core::paths::MAX_PATH_DEPTH;
                if broken {
                    return Err(format!("accepted a bad path {s:?}"));
                }
                // A path accepted must survive JSON as the same path.
                let json = serde_json::to_string(&p).unwrap();
                let back: RepoPath = serde_json::from_str(&json)
                    .map_err(|e| format!("{s:?} does not round-trip: {e}"))?;
                if back != p {
                    return Err(format!("{s:?} changed in a round trip"));
                }
                let _ = p.extension();
                ok.push(p);
                sig.push('o');
            }
            Err(e) => sig.push_str(
                &signature("", &format!("{e:?}"))
                    .chars()
                    .take(12)
                    .collect::<String>(),
            ),
        }
    }
    match check_path_set(ok.iter()) {
        Ok(()) => {
            let folded: HashSet<String> = ok.iter().map(|p| p.as_str().to_lowercase()).collect();
            if folded.len() != ok.len() {
                return Err("a set with case-colliding paths passed".into());
            }
            for p in &ok {
                for q in &ok {
                    if q.as_str().starts_with(&format!("{}/", p.as_str())) {
                        return Err(format!("{} is a file and a directory", p.as_str()));
                    }
                }
            }
            sig.push_str("|set-ok");
        }
        Err(e) => sig.push_str(
            &signature("|set", &format!("{e:?}"))
                .chars()
                .take(14)
                .collect::<String>(),
        ),
    }
    Ok(sig.chars().take(120).collect())
}

#[test]
fn fuzz_paths() {
    let seeds = vec![
        b"model.safetensors\nonnx/model.onnx\nREADME.md".to_vec(),
        b"a\nA\na/b\n../x\n/abs\nC:/x\na//b\n.\n..".to_vec(),
        "ünïcödé/日本語.txt\nStraße\nSTRASSE\n\u{212a}elvin\nkelvin"
            .as_bytes()
            .to_vec(),
    ];
    let dict: &[&[u8]] = &[
        b"/",
        b"..",
        b".",
        b"\\",
        b"C:",
        b"\x00",
        b"\x7f",
        "\u{0130}".as_bytes(),
        "\u{212a}".as_bytes(),
        b"\n",
    ];
    let r = run_target("paths", seeds, dict, &mut paths_target);
    assert_clean("paths", r);
}

// ---- model-card front matter ----

fn front_matter_target(input: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(input);
    match granary_server::publish::card::front_matter(&text) {
        Ok(v) => {
            if !v.is_object() {
                return Err(format!("front matter is not a mapping: {v}"));
            }
            let _ = granary_server::publish::card::field(&v, "license");
            Ok(format!(
                "ok:{}",
                v.as_object().map(|o| o.len().min(4)).unwrap_or(0)
            ))
        }
        Err(e) => Ok(signature("err", &e)),
    }
}

#[test]
fn fuzz_front_matter() {
    let seeds = vec![
        b"---\nlicense: mit\ntags:\n  - llama\n  - text\nmodel-index:\n  - name: x\n    results: []\n---\n# Title\n".to_vec(),
        b"\xef\xbb\xbf---\r\nlicense: [apache-2.0]\r\n---\r\nbody".to_vec(),
        b"---\na: &x [1, 2]\nb: *x\nc: !!binary aGVsbG8=\nd: {e: [f, {g: h}]}\n---".to_vec(),
        b"---\n---\n".to_vec(),
        b"no front matter".to_vec(),
    ];
    let dict: &[&[u8]] = &[
        b"---\n",
        b"\n---",
        b"&a ",
        b"*a",
        b"<<: *a",
        b"!!",
        b"!!python/object",
        b"? ",
        b"- ",
        b": ",
        b"|\n  ",
        b">-\n",
        b"%YAML 1.2\n",
        b"'",
        b"\"",
        b"[",
        b"{",
        b"\t",
        b"license: ",
        b"~",
    ];
    let r = run_target("front_matter", seeds, dict, &mut front_matter_target);
    assert_clean("front_matter", r);
}

#[test]
fn front_matter_alias_bombs_are_refused_quickly() {
    // "Billion laughs": nine levels of nine aliases.
    let mut yaml = String::from("---\na: &a [x, x, x, x, x, x, x, x, x]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(", ");
        yaml.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    yaml.push_str("---\n");
    let start = Instant::now();
    let r = granary_server::publish::card::front_matter(&yaml);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    assert!(r.is_err(), "an alias bomb was expanded");
}

// ---- the Hub's NDJSON commit, through the router ----

#[test]
fn fuzz_hf_commit_body() {
    use tower::ServiceExt as _;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (router, token) = rt.block_on(async {
        let mut config = granary_server::Config::for_data_dir(dir.path());
        config.upload_part_size = 64 * 1024;
        config.max_files = 50;
        config.limits.token_rate_per_minute = 0;
        let app = std::sync::Arc::new(granary_server::App::open(config).await.unwrap());
        let now = granary_core::time::now_ms();
        let user = granary_server::db::users::ensure(&app.db, "alice", false, now)
            .await
            .unwrap();
        let token =
            granary_server::db::users::create_token(&app.db, &user.id, "fuzz", "write", now)
                .await
                .unwrap();
        let router = granary_server::router::router(granary_server::AppState(app));
        let create = axum::http::Request::post("/api/repos/create")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(r#"{"name": "fuzz"}"#))
            .unwrap();
        let res = router.clone().oneshot(create).await.unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        (router, token)
    });
    let header = r#"{"key":"header","value":{"summary":"fuzz","description":""}}"#;
    let seeds: Vec<Vec<u8>> = vec![
        format!("{header}\n{{\"key\":\"file\",\"value\":{{\"path\":\"README.md\",\"content\":\"LS0tCmxpY2Vuc2U6IG1pdAotLS0K\",\"encoding\":\"base64\"}}}}\n").into_bytes(),
        format!("{header}\n{{\"key\":\"file\",\"value\":{{\"content\": \"aGVsbG8=\", \"path\":\"a.txt\",\"encoding\":\"base64\"}}}}\n{{\"key\":\"deletedFile\",\"value\":{{\"path\":\"a.txt\"}}}}\n").into_bytes(),
        format!("{header}\n{{\"key\":\"copyFile\",\"value\":{{\"path\":\"README.md\",\"newPath\":\"b.md\"}}}}\n{{\"key\":\"deletedFolder\",\"value\":{{\"path\":\"/\"}}}}").into_bytes(),
        format!("{header}\n{{\"key\":\"lfsFile\",\"value\":{{\"path\":\"w.bin\",\"algo\":\"sha256\",\"oid\":\"{}\",\"size\":5}}}}\n", Sha256::of(b"hello").hex()).into_bytes(),
    ];
    let dict: &[&[u8]] = &[
        b"\"content\":\"",
        b"\"content\": \"",
        b"\"key\":\"file\"",
        b"\"key\":\"header\"",
        b"\"parentCommit\":\"main\"",
        b"\"encoding\":\"base64\"",
        b"\"path\":\"../x\"",
        b"\"newPath\":\"",
        b"\"srcRevision\":\"main\"",
        b"====",
        b"\\n",
        b"\"key\":\"lfsFile\"",
        b"\"key\":\"deletedFolder\"",
    ];
    let mut n = 0u64;
    let r = run_target("hf_commit", seeds, dict, &mut |input| {
        n += 1;
        let body = input.to_vec();
        let req = axum::http::Request::post("/api/models/alice/fuzz/commit/main")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/x-ndjson")
            .body(axum::body::Body::from(body))
            .unwrap();
        let res = rt.block_on(router.clone().oneshot(req)).unwrap();
        let status = res.status();
        let body = rt
            .block_on(axum::body::to_bytes(res.into_body(), 1 << 20))
            .unwrap();
        if status.is_server_error() {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
        }
        if !status.is_success() {
            let v: serde_json::Value =
                serde_json::from_slice(&body).map_err(|_| format!("{status}: not JSON"))?;
            if !v["error"].is_string() {
                return Err(format!("{status}: no error sentence"));
            }
            return Ok(signature(
                &status.as_u16().to_string(),
                v["error"].as_str().unwrap(),
            ));
        }
        Ok("ok".into())
    });
    assert_clean("hf_commit", r);
}
