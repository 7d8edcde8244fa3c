//! A small HTTP load generator for `bench/run`: `loadgen URL CONNECTIONS SECONDS`
//! keeps CONNECTIONS requests in flight for SECONDS and prints one JSON line:
//! requests per second and latency percentiles. Any non-2xx answer counts as an error.

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: loadgen URL CONNECTIONS SECONDS [URL2 ...]");
        std::process::exit(2);
    }
    let urls: Vec<String> = std::iter::once(args[1].clone())
        .chain(args[4..].iter().cloned())
        .collect();
    let connections: usize = args[2].parse().expect("CONNECTIONS is a number");
    let seconds: f64 = args[3].parse().expect("SECONDS is a number");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    // Warm up the connections.
    for u in &urls {
        let _ = client
            .get(u)
            .send()
            .await
            .and_then(|r| r.error_for_status());
    }
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let client = client.clone();
        let urls = urls.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut i = c;
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = match client.get(&urls[i % urls.len()]).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                if !ok {
                    errors += 1;
                }
                i += 1;
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "{}",
        serde_json::json!({
            "requests": all.len(),
            "errors": errors,
            "rps": all.len() as f64 / elapsed,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
        })
    );
}
