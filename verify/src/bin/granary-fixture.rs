//! `granary-fixture KIND DIR`: writes one fixture model into DIR.
//! `granary-fixture llama_params N DIR` writes a Llama of about N parameters.

use std::path::Path;
use std::process::ExitCode;

use granary_verify::fixtures;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [kind, n, dir] if kind == "llama_params" => match n.parse() {
            Ok(n) => fixtures::llama_of_params(Path::new(dir), n),
            Err(_) => {
                eprintln!("granary-fixture: `{n}` is not a parameter count");
                return ExitCode::from(2);
            }
        },
        [kind, dir] => fixtures::write(kind, Path::new(dir)),
        _ => {
            eprintln!("usage: granary-fixture KIND DIR | granary-fixture llama_params N DIR");
            eprintln!("kinds: {}", fixtures::KINDS.join(", "));
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("granary-fixture: {e}");
            ExitCode::FAILURE
        }
    }
}
