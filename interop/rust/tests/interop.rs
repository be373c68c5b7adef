//! End-to-end: the real `interop-server` and `interop-client` binaries over 127.0.0.1,
//! plain TCP and TLS (a self-signed certificate generated here with rcgen).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

use protosocket_interop::client::SCENARIOS;

const SERVER: &str = env!("CARGO_BIN_EXE_interop-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_interop-client");

/// A running server; killed on drop.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    addr: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(SERVER)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn interop-server");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read LISTENING line");
        let addr = line
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("first line is {line:?}"))
            .trim_end()
            .to_string();
        assert!(
            addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
            "{addr}"
        );
        Server {
            child,
            stdin,
            stdout,
            addr,
        }
    }

    /// Waits up to `timeout` for the process to exit.
    fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_client(args: &[&str]) -> Output {
    Command::new(CLIENT)
        .args(args)
        .output()
        .expect("run interop-client")
}

fn assert_all_pass(output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "client failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let expected: Vec<String> = SCENARIOS.iter().map(|s| format!("PASS {s}")).collect();
    assert_eq!(lines[..SCENARIOS.len()], expected[..], "stdout:\n{stdout}");
    assert_eq!(
        lines[SCENARIOS.len()],
        format!("{} passed, 0 failed", SCENARIOS.len())
    );
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "protosocket-interop-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn self_signed(dir: &TempDir) -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.0.join("cert.pem");
    let key = dir.0.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert.display().to_string(), key.display().to_string())
}

#[test]
fn all_scenarios_plain_tcp() {
    let server = Server::start(&[]);
    let output = run_client(&["--addr", &server.addr, "--scenario", "all"]);
    assert_all_pass(&output);
}

#[test]
fn all_scenarios_tls() {
    let dir = TempDir::new("tls");
    let (cert, key) = self_signed(&dir);
    let server = Server::start(&["--tls-cert", &cert, "--tls-key", &key]);
    let output = run_client(&["--addr", &server.addr, "--tls", "--scenario", "all"]);
    assert_all_pass(&output);
}

#[test]
fn plain_client_cannot_talk_to_tls_server() {
    let dir = TempDir::new("mismatch");
    let (cert, key) = self_signed(&dir);
    let server = Server::start(&["--tls-cert", &cert, "--tls-key", &key]);
    let output = run_client(&["--addr", &server.addr, "--scenario", "unary"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.starts_with("FAIL unary: "), "{stdout}");
}

#[test]
fn client_reports_failure_without_server() {
    // Bind and drop to find a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let output = run_client(&[
        "--addr",
        &addr,
        "--scenario",
        "unary",
        "--scenario",
        "stats",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("FAIL unary: connect to"), "{stdout}");
    assert!(lines[1].starts_with("FAIL stats: "), "{stdout}");
    assert_eq!(lines[2], "0 passed, 2 failed");
}

#[test]
fn unknown_scenario_is_a_usage_error() {
    let output = run_client(&["--addr", "127.0.0.1:1", "--scenario", "nope"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn server_prints_one_line_and_exits_when_stdin_closes() {
    let mut server = Server::start(&[]);
    // Serves while stdin is open.
    let output = run_client(&["--addr", &server.addr, "--scenario", "unary"]);
    assert!(output.status.success());
    assert!(server.wait_exit(Duration::from_millis(200)).is_none());
    drop(server.stdin.take());
    let status = server
        .wait_exit(Duration::from_secs(5))
        .expect("server did not exit after stdin closed");
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    server.stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "extra stdout after the LISTENING line");
}

#[test]
fn server_with_stdin_from_dev_null_keeps_running() {
    let mut child = Command::new(SERVER)
        .args(["--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim_end()
        .strip_prefix("LISTENING ")
        .unwrap()
        .to_string();
    std::thread::sleep(Duration::from_millis(200));
    let alive = child.try_wait().unwrap().is_none();
    let output = run_client(&["--addr", &addr, "--scenario", "unary"]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(alive, "server exited with stdin = /dev/null");
    assert!(output.status.success());
}

#[test]
fn server_rejects_half_tls_flags() {
    let output = Command::new(SERVER)
        .args(["--addr", "127.0.0.1:0", "--tls-cert", "x.pem"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
}
