//! Writes a benchmark model: `gen_model DIR TOTAL_BYTES SHARDS` makes SHARDS
//! safetensors files of random finite F32 values adding up to about
//! TOTAL_BYTES, plus a README.md with `license: apache-2.0`.

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: gen_model DIR TOTAL_BYTES SHARDS");
        std::process::exit(2);
    }
    let dir = std::path::PathBuf::from(&args[1]);
    let total: u64 = args[2].parse().expect("TOTAL_BYTES is a number");
    let shards: u64 = args[3].parse().expect("SHARDS is a number");
    std::fs::create_dir_all(&dir).expect("create DIR");
    let per_shard = (total / shards / 4) as usize; // F32 parameters per shard
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for i in 1..=shards {
        let mut data = Vec::with_capacity(per_shard * 4);
        for _ in 0..per_shard {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
            let v = ((r >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
            data.extend_from_slice(&v.to_le_bytes());
        }
        let file = granary_core::safetensors_header::build(&[(
            "weight",
            "F32",
            vec![per_shard as u64],
            data,
        )]);
        let name = format!("model-{i:05}-of-{shards:05}.safetensors");
        std::fs::File::create(dir.join(&name))
            .and_then(|mut f| f.write_all(&file))
            .expect("write shard");
    }
    std::fs::write(
        dir.join("README.md"),
        "---\nlicense: apache-2.0\n---\n# Benchmark model\n",
    )
    .expect("write README");
    std::fs::write(dir.join("config.json"), "{\"model_type\": \"bench\"}\n").expect("write config");
}
