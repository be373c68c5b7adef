//! Writes interop/vectors/frames.json (or checks it with `--check`).

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Write the interop byte vectors (interop/vectors/frames.json)")]
struct Args {
    /// Output file (default: interop/vectors/frames.json in this repository).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Do not write: exit non-zero if the file differs from what would be written.
    #[arg(long)]
    check: bool,
}

fn main() {
    let args = Args::parse();
    let path = args.out.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(protosocket_interop::vectors::FRAMES_PATH)
    });
    let text = match protosocket_interop::vectors::render() {
        Ok(text) => text,
        Err(e) => {
            eprintln!("gen-vectors: {e}");
            std::process::exit(2);
        }
    };
    if args.check {
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == text => println!("{} is up to date", path.display()),
            Ok(_) => {
                eprintln!(
                    "{} is stale: run `cargo run --bin gen-vectors`",
                    path.display()
                );
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                std::process::exit(1);
            }
        }
        return;
    }
    if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("{}: {e}", path.display());
        std::process::exit(1);
    }
    println!("wrote {}", path.display());
}
