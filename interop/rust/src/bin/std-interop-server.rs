//! std-interop-server: the routeguide.v1 services on the standard envelope
//! (protosocket.v1.Request / Response, methods by name) on protosocket-rpc; see
//! src/standard.rs for what it answers.
//!
//! Prints exactly one line `LISTENING <ip:port>` on stdout once bound, then serves until
//! killed, or until its stdin (when that is a pipe, socket or terminal) reaches EOF.

use std::io::{IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;

use clap::Parser;
use protosocket_interop::server::DEFAULT_MAX_BUFFER_LENGTH;
use protosocket_interop::standard::bind;

#[derive(Parser)]
#[command(about = "protosocket-rpc server of the standard envelope (routeguide.v1 services)")]
struct Args {
    /// Address to listen on, e.g. 127.0.0.1:0 (port 0 picks a free port).
    #[arg(long)]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let server = match bind(args.addr, DEFAULT_MAX_BUFFER_LENGTH) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("std-interop-server: cannot listen on {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "LISTENING {}", server.local_addr);
        let _ = stdout.flush();
    }
    // Exits when the parent closes stdin (a test harness pipes it); /dev/null or a file is not watched.
    let watchable = std::io::stdin().is_terminal()
        || std::fs::metadata("/dev/stdin")
            .map(|m| m.file_type().is_fifo() || m.file_type().is_socket())
            .unwrap_or(false);
    if watchable {
        std::thread::spawn(|| {
            let mut buffer = [0u8; 64];
            let mut stdin = std::io::stdin().lock();
            loop {
                match stdin.read(&mut buffer) {
                    Ok(0) | Err(_) => std::process::exit(0),
                    Ok(_) => {}
                }
            }
        });
    }
    if let Err(e) = server.serve.await {
        eprintln!("std-interop-server: {e}");
    }
    std::process::exit(1);
}
