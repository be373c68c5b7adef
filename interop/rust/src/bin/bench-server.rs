//! bench-server: the Rust protosocket-rpc server as a system of the benchmark (bench/).
//!
//! `bench-server --port 0 --set small|realistic|grpc` serves one message set on
//! 127.0.0.1 (src/bench.rs), prints `LISTENING <port>`, and answers bench/src/servers/run.ts's
//! line protocol on stdin: `STATS` → `STATS {"cpuUserUs":…,"cpuSystemUs":…,"rss":…,"heapUsed":0}`,
//! `EXIT` or the end of stdin → exit. One thread (a current-thread tokio runtime), as a
//! Node server has one.

use std::io::{BufRead, Write};
use std::net::SocketAddr;

use clap::Parser;
use protosocket::TcpSocketListener;
use protosocket_interop::bench::{process_stats, BenchConnection, BenchService, EchoConnection};
use protosocket_interop::server::{listen, BUFFER_ALLOCATION_INCREMENT, DEFAULT_MAX_BUFFER_LENGTH, MAX_QUEUED_OUTBOUND_MESSAGES};
use protosocket_rpc::server::SocketRpcServer;

#[derive(Parser)]
#[command(about = "protosocket-rpc server of the benchmark's message sets")]
struct Args {
    /// TCP port on 127.0.0.1 (0 picks a free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The message set: small (echo.v1), realistic or grpc (bench.v1).
    #[arg(long, default_value = "small")]
    set: String,
}

fn answer_stdin() {
    std::thread::spawn(|| {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            match line.as_deref().map(str::trim) {
                Ok("STATS") => {
                    let (user, system, rss) = process_stats();
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "STATS {{\"cpuUserUs\":{user},\"cpuSystemUs\":{system},\"rss\":{rss},\"heapUsed\":0}}");
                    let _ = out.flush();
                }
                Ok("EXIT") | Err(_) => std::process::exit(0),
                _ => {}
            }
        }
        std::process::exit(0);
    });
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let (listener, bound) = match listen(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bench-server: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let result = match args.set.as_str() {
        "small" => {
            let server = SocketRpcServer::new(listener, BenchService::<EchoConnection, TcpSocketListener>::default(), DEFAULT_MAX_BUFFER_LENGTH, BUFFER_ALLOCATION_INCREMENT, MAX_QUEUED_OUTBOUND_MESSAGES);
            ready(bound);
            match server {
                Ok(s) => s.await,
                Err(e) => Err(std::io::Error::other(e)),
            }
        }
        "realistic" | "grpc" => {
            let server = SocketRpcServer::new(listener, BenchService::<BenchConnection, TcpSocketListener>::default(), DEFAULT_MAX_BUFFER_LENGTH, BUFFER_ALLOCATION_INCREMENT, MAX_QUEUED_OUTBOUND_MESSAGES);
            ready(bound);
            match server {
                Ok(s) => s.await,
                Err(e) => Err(std::io::Error::other(e)),
            }
        }
        other => {
            eprintln!("bench-server: unknown message set {other:?} (small, realistic, grpc)");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("bench-server: {e}");
    }
    std::process::exit(1);
}

fn ready(bound: SocketAddr) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "LISTENING {}", bound.port());
    let _ = out.flush();
    drop(out);
    answer_stdin();
}
