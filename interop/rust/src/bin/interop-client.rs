//! interop-client: runs scripted scenarios against an interop server and prints
//! `PASS name` / `FAIL name: reason` per scenario; exits 1 if any failed.

use std::net::SocketAddr;

use clap::Parser;
use protosocket_interop::client::{resolve_scenarios, run_all, SCENARIOS};
use protosocket_rpc::client::{Configuration, TcpStreamConnector, UnverifiedTlsStreamConnector};
use rustls_pki_types::ServerName;

#[derive(Parser)]
#[command(about = "protosocket-rpc interop client", after_help = scenario_help())]
struct Args {
    /// Server address, e.g. 127.0.0.1:7000.
    #[arg(long)]
    addr: SocketAddr,
    /// Connect with TLS 1.3 (protosocket-rpc's UnverifiedTlsStreamConnector: any
    /// certificate is accepted).
    #[arg(long)]
    tls: bool,
    /// Server name sent in the TLS handshake (SNI).
    #[arg(long, default_value = "localhost")]
    tls_server_name: String,
    /// Scenario to run; repeatable; `all` runs every scenario (the default).
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
}

fn scenario_help() -> String {
    format!("Scenarios: {}", SCENARIOS.join(", "))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let names = match resolve_scenarios(&args.scenarios) {
        Ok(names) => names,
        Err(e) => {
            eprintln!("interop-client: {e}");
            std::process::exit(2);
        }
    };
    let failures = if args.tls {
        let server_name = match ServerName::try_from(args.tls_server_name.clone()) {
            Ok(name) => name,
            Err(e) => {
                eprintln!("interop-client: bad --tls-server-name: {e}");
                std::process::exit(2);
            }
        };
        let configuration = Configuration::new(UnverifiedTlsStreamConnector::new(server_name));
        run_all(&names, args.addr, &configuration).await
    } else {
        let configuration = Configuration::new(TcpStreamConnector);
        run_all(&names, args.addr, &configuration).await
    };
    println!("{} passed, {} failed", names.len() - failures, failures);
    std::process::exit(if failures == 0 { 0 } else { 1 });
}
