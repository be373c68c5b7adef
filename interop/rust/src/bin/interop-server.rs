//! interop-server: the Rust protosocket-rpc peer of the interop suite.
//!
//! Prints exactly one line `LISTENING <ip:port>` on stdout once bound, then serves until
//! killed, or until its stdin (when that is a pipe, socket or terminal) reaches EOF.

use std::io::{IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;

use clap::Parser;
use protosocket_interop::server::{bind, ServerOptions, DEFAULT_MAX_BUFFER_LENGTH};

#[derive(Parser)]
#[command(about = "protosocket-rpc interop server (interop.v1.Request / interop.v1.Response)")]
struct Args {
    /// Address to listen on, e.g. 127.0.0.1:0 (port 0 picks a free port).
    #[arg(long)]
    addr: SocketAddr,
    /// PEM certificate chain; serves TLS (rustls) when given with --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Maximum inbound frame size in bytes, length prefix included.
    #[arg(long, default_value_t = DEFAULT_MAX_BUFFER_LENGTH)]
    max_buffer_length: usize,
}

/// Exit when stdin closes, if stdin is something that can close (a pipe from a parent
/// test harness, a socket, a terminal). A stdin of /dev/null or a file (a background job
/// in a script) is not watched, or the server would exit at once.
fn watch_stdin() {
    let watchable = std::io::stdin().is_terminal()
        || std::fs::metadata("/dev/stdin")
            .map(|m| m.file_type().is_fifo() || m.file_type().is_socket())
            .unwrap_or(false);
    if !watchable {
        return;
    }
    std::thread::spawn(|| {
        let mut stdin = std::io::stdin().lock();
        let mut buffer = [0u8; 1024];
        loop {
            match stdin.read(&mut buffer) {
                Ok(0) | Err(_) => std::process::exit(0),
                Ok(_) => {}
            }
        }
    });
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let options = ServerOptions {
        addr: args.addr,
        tls: args.tls_cert.zip(args.tls_key),
        max_buffer_length: args.max_buffer_length,
    };
    let server = match bind(&options) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("interop-server: cannot listen on {}: {e}", options.addr);
            std::process::exit(1);
        }
    };
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "LISTENING {}", server.local_addr);
        let _ = stdout.flush();
    }
    watch_stdin();
    match server.serve.await {
        Ok(()) => eprintln!("interop-server: listener stopped accepting"),
        Err(e) => eprintln!("interop-server: {e}"),
    }
    std::process::exit(1);
}
