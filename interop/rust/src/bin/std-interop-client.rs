//! std-interop-client: scripted scenarios on the standard envelope (routeguide.v1 services)
//! against a server at --addr; prints `PASS name` / `FAIL name: reason` per scenario and
//! exits 1 if any failed.

use std::net::SocketAddr;

use clap::Parser;
use protosocket_interop::std_client::{run_all, SCENARIOS};
use protosocket_rpc::client::{Configuration, TcpStreamConnector};

#[derive(Parser)]
#[command(about = "protosocket-rpc client of the standard envelope", after_help = format!("Scenarios: {}", SCENARIOS.join(", ")))]
struct Args {
    /// Server address, e.g. 127.0.0.1:7000.
    #[arg(long)]
    addr: SocketAddr,
    /// Scenario to run; repeatable; `all` (the default) runs every scenario.
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let names = if args.scenarios.is_empty() {
        vec!["all".to_string()]
    } else {
        args.scenarios
    };
    let configuration = Configuration::new(TcpStreamConnector);
    match run_all(&names, args.addr, &configuration).await {
        Ok(0) => std::process::exit(0),
        Ok(_) => std::process::exit(1),
        Err(e) => {
            eprintln!("std-interop-client: {e}");
            std::process::exit(2);
        }
    }
}
