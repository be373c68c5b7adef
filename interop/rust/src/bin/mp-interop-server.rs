//! mp-interop-server: the Rust protosocket-messagepack peer of the interop suite.
//!
//! Serves the interop protocol in MessagePack (or, with `--protocol example`, the
//! messages of protosocket's example-messagepack). Prints exactly one line
//! `LISTENING <ip:port>` on stdout once bound, then serves until killed, or until its
//! stdin (when that is a pipe) reaches EOF.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;

use clap::Parser;

#[derive(Parser)]
#[command(about = "protosocket-messagepack interop server")]
struct Args {
    /// Address to listen on, e.g. 127.0.0.1:0 (port 0 picks a free port).
    #[arg(long)]
    addr: SocketAddr,
    /// `interop` (the default) or `example` (example-messagepack's messages).
    #[arg(long, default_value = "interop")]
    protocol: String,
    /// Maximum inbound frame size in bytes, length prefix included.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    max_buffer_length: usize,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let example = match args.protocol.as_str() {
        "interop" => false,
        "example" => true,
        other => {
            eprintln!("mp-interop-server: unknown --protocol {other:?}; interop or example");
            std::process::exit(2);
        }
    };
    let (local, serve) =
        match protosocket_interop::mp::bind(args.addr, example, args.max_buffer_length) {
            Ok(bound) => bound,
            Err(e) => {
                eprintln!("mp-interop-server: cannot listen on {}: {e}", args.addr);
                std::process::exit(1);
            }
        };
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "LISTENING {local}");
        let _ = stdout.flush();
    }
    let piped = std::fs::metadata("/dev/stdin")
        .map(|m| m.file_type().is_fifo() || m.file_type().is_socket())
        .unwrap_or(false);
    if piped {
        std::thread::spawn(|| {
            let mut buffer = [0u8; 1024];
            let mut stdin = std::io::stdin().lock();
            loop {
                match stdin.read(&mut buffer) {
                    Ok(0) | Err(_) => std::process::exit(0),
                    Ok(_) => {}
                }
            }
        });
    }
    match serve.await {
        Ok(()) => eprintln!("mp-interop-server: listener stopped accepting"),
        Err(e) => eprintln!("mp-interop-server: {e}"),
    }
    std::process::exit(1);
}
