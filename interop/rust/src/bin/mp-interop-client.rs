//! mp-interop-client: runs scripted scenarios against a MessagePack interop server and
//! prints `PASS name` / `FAIL name: reason` per scenario; exits 1 if any failed.

use std::net::SocketAddr;

use clap::Parser;
use protosocket_interop::mp_client::{run_all, EXAMPLE_SCENARIOS, SCENARIOS};

#[derive(Parser)]
#[command(about = "protosocket-messagepack interop client")]
struct Args {
    /// Server address, e.g. 127.0.0.1:7000.
    #[arg(long)]
    addr: SocketAddr,
    /// Scenario to run; repeatable; `all` runs every interop scenario (the default),
    /// `example` every example-messagepack scenario.
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut names: Vec<&str> = Vec::new();
    let wanted = if args.scenarios.is_empty() {
        vec!["all".to_string()]
    } else {
        args.scenarios.clone()
    };
    for name in &wanted {
        match name.as_str() {
            "all" => names.extend_from_slice(SCENARIOS),
            "example" => names.extend_from_slice(EXAMPLE_SCENARIOS),
            other => match SCENARIOS
                .iter()
                .chain(EXAMPLE_SCENARIOS)
                .find(|s| **s == other)
            {
                Some(known) => names.push(known),
                None => {
                    eprintln!("mp-interop-client: unknown scenario {other:?}; known: all, example, {}, {}", SCENARIOS.join(", "), EXAMPLE_SCENARIOS.join(", "));
                    std::process::exit(2);
                }
            },
        }
    }
    let failures = run_all(&names, args.addr).await;
    println!("{} passed, {} failed", names.len() - failures, failures);
    std::process::exit(if failures == 0 { 0 } else { 1 });
}
