//! End-to-end: the real `std-interop-server` and `std-interop-client` binaries (the
//! standard envelope, routeguide.v1 services) over 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use protosocket_interop::std_client::SCENARIOS;

const SERVER: &str = env!("CARGO_BIN_EXE_std-interop-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_std-interop-client");

#[test]
fn every_scenario_passes_against_the_rust_server() {
    let mut server = Command::new(SERVER)
        .args(["--addr", "127.0.0.1:0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn std-interop-server");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read LISTENING line");
    let addr = line
        .strip_prefix("LISTENING ")
        .unwrap_or_else(|| panic!("first line is {line:?}"))
        .trim_end()
        .to_string();
    let output = Command::new(CLIENT)
        .args(["--addr", &addr, "--scenario", "all"])
        .output()
        .expect("run std-interop-client");
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    for scenario in SCENARIOS {
        assert!(
            stdout.lines().any(|l| l == format!("PASS {scenario}")),
            "{scenario} did not pass:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(output.status.success(), "{stdout}");
}
