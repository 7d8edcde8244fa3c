//! What signing adds to a commit (issue 18): the statement of a revision of
//! `FILES` files (default 1,000) built and signed, as `publish::land` does inside
//! the commit's transaction, `RUNS` times (default 200). Prints the median and
//! the 99th percentile in milliseconds, as `median_ms=… p99_ms=…`.

use granary_core::signing::SignedFile;
use granary_core::{ModelId, Sha256};
use granary_server::signing::RegistryKey;

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (files, runs) = (arg(1, 1000), arg(2, 200));
    let files: Vec<SignedFile> = (0..files)
        .map(|i| SignedFile {
            path: format!("shards/part-{i:05}.safetensors"),
            sha256: Sha256::of(&i.to_le_bytes()),
        })
        .collect();
    let key = RegistryKey::generated();
    let model: ModelId = "bench/model".parse().unwrap();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = std::time::Instant::now();
            let bundle = key.sign_revision(&model, &"ab".repeat(32), &files);
            std::hint::black_box(bundle);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!("median_ms={:.3} p99_ms={:.3}", at(0.5), at(0.99));
}
