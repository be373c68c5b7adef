//! Scripted scenarios of `mp-interop-client`: the interop protocol in MessagePack
//! against any server of it (the Rust one in `mp.rs`, or the TypeScript one), and the
//! example-messagepack protocol (`example_*`). Outcomes are read as in `client.rs`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use protosocket_rpc::client::{Configuration, RpcClient, TcpStreamConnector};

use crate::mp::example;
use crate::mp::interop::{
    EchoRequest, Empty, FailRequest, Fidelity, Request, RequestBody, Response, ResponseBody,
    SleepRequest, StatsResponse, StreamRequest,
};
use crate::mp::{ClientCodec, ExampleClientCodec};

/// Scenarios of the interop protocol, in the order `all` runs them.
pub const SCENARIOS: &[&str] = &[
    "unary",
    "empty",
    "large",
    "concurrent",
    "stream",
    "stream_10k",
    "cancel_stream",
    "cancel_unary",
    "error",
    "reject",
    "stats",
    "fidelity",
];

/// Scenarios of the example-messagepack protocol (`--protocol example`).
pub const EXAMPLE_SCENARIOS: &[&str] = &["example_unary", "example_stream"];

const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);
const CANCEL_OBSERVE_TIMEOUT: Duration = Duration::from_secs(2);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

type Outcome = Result<(), String>;

struct Peer<Q: protosocket_rpc::Message, A: protosocket_rpc::Message> {
    client: RpcClient<Q, A>,
    connection: tokio::task::JoinHandle<()>,
}

impl<Q: protosocket_rpc::Message, A: protosocket_rpc::Message> Drop for Peer<Q, A> {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

async fn connect(addr: SocketAddr) -> Result<Peer<Request, Response>, String> {
    let (client, connection) = protosocket_rpc::client::connect::<ClientCodec, _>(
        addr,
        &Configuration::new(TcpStreamConnector),
    )
    .await
    .map_err(|e| format!("connect to {addr}: {e}"))?;
    Ok(Peer {
        client,
        connection: tokio::spawn(connection),
    })
}

fn request(body: RequestBody) -> Request {
    Request {
        request_id: next_id(),
        code: 0,
        body: Some(body),
    }
}

impl Peer<Request, Response> {
    async fn unary(&self, body: RequestBody) -> Result<Option<ResponseBody>, String> {
        let req = request(body);
        let id = req.request_id;
        let response = self
            .client
            .send_unary(req)
            .map_err(|e| format!("send: {e}"))?
            .await
            .map_err(|e| format!("rpc {id} failed: {e}"))?;
        if response.request_id != id || response.code != 0 {
            return Err(format!(
                "response id {} code {} for request {id}",
                response.request_id, response.code
            ));
        }
        Ok(response.body)
    }

    async fn echo(&self, message: &str, payload: Vec<u8>) -> Outcome {
        match self
            .unary(RequestBody::Echo(EchoRequest {
                message: message.to_string(),
                payload: payload.clone(),
            }))
            .await?
        {
            Some(ResponseBody::Echo(echo))
                if echo.message == message && echo.payload == payload =>
            {
                Ok(())
            }
            Some(ResponseBody::Echo(echo)) => Err(format!(
                "echo came back as {:?} with {} bytes",
                echo.message,
                echo.payload.len()
            )),
            other => Err(format!("expected the Echo variant, got {other:?}")),
        }
    }

    async fn stats(&self) -> Result<StatsResponse, String> {
        match self.unary(RequestBody::Stats(Empty {})).await? {
            Some(ResponseBody::Stats(stats)) => Ok(stats),
            other => Err(format!("expected the Stats variant, got {other:?}")),
        }
    }

    async fn wait_for_stats(&self, what: &str, check: impl Fn(&StatsResponse) -> bool) -> Outcome {
        let deadline = Instant::now() + CANCEL_OBSERVE_TIMEOUT;
        loop {
            let stats = self.stats().await?;
            if check(&stats) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{what} within {CANCEL_OBSERVE_TIMEOUT:?}; last stats {stats:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn stream(&self, count: u64, payload_size: u32) -> Outcome {
        let req = request(RequestBody::Stream(StreamRequest {
            count,
            payload_size,
            item_delay_ms: 0,
        }));
        let id = req.request_id;
        let mut stream = self
            .client
            .send_streaming(req)
            .map_err(|e| format!("send: {e}"))?;
        let mut next = 0u64;
        while let Some(item) = stream.next().await {
            let Ok(item) = item else { break };
            match item.body {
                Some(ResponseBody::Stream(s))
                    if item.request_id == id
                        && s.sequence == next
                        && s.payload.len() == payload_size as usize =>
                {
                    next += 1
                }
                other => return Err(format!("item {next}: {other:?}")),
            }
        }
        if next != count {
            return Err(format!("stream finished after {next} of {count} items"));
        }
        Ok(())
    }
}

async fn scenario(name: &str, addr: SocketAddr) -> Outcome {
    if name.starts_with("example_") {
        return example_scenario(name, addr).await;
    }
    let peer = connect(addr).await?;
    match name {
        "unary" => peer.echo("hello", vec![1, 2, 3, 4, 5]).await,
        "empty" => peer.echo("", Vec::new()).await,
        "large" => {
            peer.echo("large", (0..(1 << 20)).map(|i| (i % 251) as u8).collect())
                .await
        }
        "concurrent" => {
            let mut completions = Vec::new();
            for i in 0..1000u32 {
                let req = request(RequestBody::Echo(EchoRequest {
                    message: format!("m{i}"),
                    payload: i.to_le_bytes().to_vec(),
                }));
                completions.push((
                    i,
                    peer.client
                        .send_unary(req)
                        .map_err(|e| format!("send: {e}"))?,
                ));
            }
            for (i, completion) in completions {
                match completion.await.map_err(|e| format!("rpc {i}: {e}"))?.body {
                    Some(ResponseBody::Echo(echo))
                        if echo.message == format!("m{i}") && echo.payload == i.to_le_bytes() => {}
                    other => return Err(format!("call {i} answered {other:?}")),
                }
            }
            Ok(())
        }
        "stream" => peer.stream(10, 8).await,
        "stream_10k" => peer.stream(10_000, 16).await,
        "cancel_stream" => {
            let before = peer.stats().await?.cancelled_handlers;
            let req = request(RequestBody::Stream(StreamRequest {
                count: 1_000_000,
                payload_size: 8,
                item_delay_ms: 1,
            }));
            let mut stream = peer
                .client
                .send_streaming(req)
                .map_err(|e| format!("send: {e}"))?;
            for i in 0..5 {
                match stream.next().await {
                    Some(Ok(_)) => {}
                    other => return Err(format!("item {i}: {other:?}")),
                }
            }
            drop(stream);
            peer.wait_for_stats("the server to observe the Cancel", |s| {
                s.cancelled_handlers > before
            })
            .await
        }
        "cancel_unary" => {
            let before = peer.stats().await?.cancelled_handlers;
            let completion = peer
                .client
                .send_unary(request(RequestBody::Sleep(SleepRequest { ms: 10_000 })))
                .map_err(|e| format!("send: {e}"))?;
            if tokio::time::timeout(Duration::from_millis(100), completion)
                .await
                .is_ok()
            {
                return Err("the sleep was answered before it was cancelled".to_string());
            }
            peer.wait_for_stats("the server to observe the Cancel", |s| {
                s.cancelled_handlers > before
            })
            .await
        }
        "error" => match peer
            .unary(RequestBody::Fail(FailRequest {
                code: 5,
                message: "not here".to_string(),
            }))
            .await?
        {
            Some(ResponseBody::Error(status))
                if status.code == 5 && status.message == "not here" =>
            {
                Ok(())
            }
            other => Err(format!(
                "expected Error {{ 5, \"not here\" }}, got {other:?}"
            )),
        },
        "reject" => {
            let before = peer.stats().await?.rejected;
            match peer
                .client
                .send_unary(request(RequestBody::Reject(Empty {})))
                .map_err(|e| format!("send: {e}"))?
                .await
            {
                Err(protosocket_rpc::Error::CancelledRemotely) => {}
                other => return Err(format!("expected CancelledRemotely, got {other:?}")),
            }
            let after = peer.stats().await?.rejected;
            if after <= before {
                return Err(format!("rejected did not grow: {before} → {after}"));
            }
            Ok(())
        }
        "stats" => {
            let a = peer.stats().await?;
            peer.echo("stats", Vec::new()).await?;
            let b = peer.stats().await?;
            if b.completed <= a.completed
                || b.cancelled_handlers < a.cancelled_handlers
                || b.rejected < a.rejected
            {
                return Err(format!("stats went from {a:?} to {b:?}"));
            }
            Ok(())
        }
        "fidelity" => {
            // What the peer must echo exactly: -0.0 with its sign, integer keys as integers
            // (a u32 past 2^31, a negative i64), and keys named like Object.prototype's.
            let sent = Fidelity {
                float: -0.0,
                by_id: [(1, "a".to_string()), (4_000_000_000, "b".to_string())].into(),
                sorted: [(-5, "minus".to_string()), (1 << 40, "big".to_string())].into(),
                names: [
                    ("__proto__".to_string(), "p".to_string()),
                    ("constructor".to_string(), "c".to_string()),
                    ("toString".to_string(), "t".to_string()),
                ]
                .into(),
            };
            match peer.unary(RequestBody::Fidelity(sent.clone())).await? {
                Some(ResponseBody::Fidelity(echo))
                    if echo == sent && echo.float.is_sign_negative() => {}
                other => return Err(format!("sent {sent:?}, got {other:?}")),
            }
            // The connection still serves.
            peer.echo("after fidelity", vec![7]).await
        }
        _ => Err(format!("unknown scenario {name}")),
    }
}

async fn example_scenario(name: &str, addr: SocketAddr) -> Outcome {
    let (client, connection) = protosocket_rpc::client::connect::<ExampleClientCodec, _>(
        addr,
        &Configuration::new(TcpStreamConnector),
    )
    .await
    .map_err(|e| format!("connect to {addr}: {e}"))?;
    let _peer = Peer {
        client: client.clone(),
        connection: tokio::spawn(connection),
    };
    let id = next_id();
    let nanotime = 1_732_611_111_000_000_000u64;
    match name {
        "example_unary" => {
            let response = client
                .send_unary(example::Request {
                    request_id: id,
                    code: 0,
                    body: Some(example::EchoRequest {
                        message: id.to_string(),
                        nanotime,
                    }),
                    response_behavior: example::ResponseBehavior::Unary,
                })
                .map_err(|e| format!("send: {e}"))?
                .await
                .map_err(|e| format!("rpc: {e}"))?;
            match response.kind {
                Some(example::EchoResponseKind::Echo(echo))
                    if echo.message == id.to_string() && echo.nanotime == nanotime =>
                {
                    Ok(())
                }
                other => Err(format!("expected Echo, got {other:?}")),
            }
        }
        "example_stream" => {
            let message = "streaming";
            let mut stream = client
                .send_streaming(example::Request {
                    request_id: id,
                    code: 0,
                    body: Some(example::EchoRequest {
                        message: message.to_string(),
                        nanotime,
                    }),
                    response_behavior: example::ResponseBehavior::Stream,
                })
                .map_err(|e| format!("send: {e}"))?;
            let mut got = String::new();
            while let Some(Ok(item)) = stream.next().await {
                match item.kind {
                    Some(example::EchoResponseKind::Stream(s))
                        if s.sequence as usize == got.len() && s.nanotime == nanotime =>
                    {
                        got.push_str(&s.message)
                    }
                    other => return Err(format!("item {}: {other:?}", got.len())),
                }
            }
            if got != message {
                return Err(format!("streamed {got:?}, expected {message:?}"));
            }
            Ok(())
        }
        _ => Err(format!("unknown scenario {name}")),
    }
}

/// Runs the scenarios in order, printing `PASS name` / `FAIL name: reason`; returns the failures.
pub async fn run_all(names: &[&str], addr: SocketAddr) -> usize {
    use std::io::Write;
    let mut failures = 0;
    for name in names {
        let outcome = match tokio::time::timeout(SCENARIO_TIMEOUT, scenario(name, addr)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no outcome within {SCENARIO_TIMEOUT:?}")),
        };
        let mut stdout = std::io::stdout().lock();
        match outcome {
            Ok(()) => {
                let _ = writeln!(stdout, "PASS {name}");
            }
            Err(reason) => {
                failures += 1;
                let _ = writeln!(stdout, "FAIL {name}: {}", reason.replace('\n', " "));
            }
        }
        let _ = stdout.flush();
    }
    failures
}
