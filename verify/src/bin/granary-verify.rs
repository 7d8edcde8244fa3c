//! `granary-verify --dir DIR [--memory-budget BYTES] [--time-budget-secs S]`:
//! verifies one revision and prints its `VerificationReport` as JSON on
//! stdout (the server's worker runs this in a child process). Exits 0 whenever
//! a report was printed, whatever its status; 2 on bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use granary_verify::{VerifyInput, verify};

const USAGE: &str =
    "usage: granary-verify --dir DIR [--memory-budget BYTES] [--time-budget-secs S] | --device";

fn main() -> ExitCode {
    let mut dir = None;
    let mut budget = 8u64 << 30;
    let mut time = 900f64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--device" {
            println!("{}", granary_verify::device_description());
            return ExitCode::SUCCESS;
        }
        let Some(value) = args.next() else {
            return usage(&format!("{flag} needs a value"));
        };
        match flag.as_str() {
            "--dir" => dir = Some(PathBuf::from(value)),
            "--memory-budget" => match value.parse() {
                Ok(n) => budget = n,
                Err(_) => return usage(&format!("`{value}` is not a byte count")),
            },
            "--time-budget-secs" => match value.parse::<f64>() {
                Ok(s) if s.is_finite() && s >= 0.0 => time = s,
                _ => return usage(&format!("`{value}` is not a number of seconds")),
            },
            other => return usage(&format!("unknown argument `{other}`")),
        }
    }
    let Some(dir) = dir else {
        return usage("--dir is required");
    };
    let input = VerifyInput {
        dir,
        memory_budget_bytes: budget,
        time_budget: Duration::from_secs_f64(time),
    };
    let report = verify(&input);
    match serde_json::to_string(&report) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("granary-verify: cannot print the report: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(why: &str) -> ExitCode {
    eprintln!("granary-verify: {why}\n{USAGE}");
    ExitCode::from(2)
}
