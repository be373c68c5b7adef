//! End-to-end: the real `mp-interop-server` and `mp-interop-client` binaries (on
//! protosocket-messagepack) over 127.0.0.1, for the interop protocol and for the
//! example-messagepack messages.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const SERVER: &str = env!("CARGO_BIN_EXE_mp-interop-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_mp-interop-client");

/// A running server; killed on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(protocol: &str) -> Server {
        let mut child = Command::new(SERVER)
            .args(["--addr", "127.0.0.1:0", "--protocol", protocol])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mp-interop-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read LISTENING line");
        let addr = line
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("first line is {line:?}"))
            .trim_end()
            .to_string();
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(protocol: &str, scenarios: &str, expected: usize) {
    let server = Server::start(protocol);
    let output = Command::new(CLIENT)
        .args(["--addr", &server.addr, "--scenario", scenarios])
        .output()
        .expect("run mp-interop-client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "mp-interop-client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("{expected} passed, 0 failed")),
        "{stdout}"
    );
}

#[test]
fn interop_protocol_all_scenarios() {
    run(
        "interop",
        "all",
        protosocket_interop::mp_client::SCENARIOS.len(),
    );
}

#[test]
fn example_messagepack_protocol() {
    run(
        "example",
        "example",
        protosocket_interop::mp_client::EXAMPLE_SCENARIOS.len(),
    );
}
