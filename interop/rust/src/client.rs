//! Scripted scenarios run by `interop-client` against any server that implements the
//! interop protocol (this crate's server, or the TypeScript one).
//!
//! Outcomes as the protosocket-rpc 2.x client reports them:
//! * unary: `Ok(response)` for the first Normal frame with the id; `Err(CancelledRemotely)`
//!   for a Cancel, an End, an unknown code, or a lost connection (indistinguishable);
//! * streaming: `Some(Ok(item))` per Normal frame, then one `Some(Err(Finished))`, then
//!   `None` — for End, Cancel and a lost connection alike, so a stream scenario can only
//!   require that every item arrived before the stream finished;
//! * dropping a completion before it resolved sends a Cancel for its id.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use prost::Message as _;
use protosocket_rpc::client::{Configuration, RpcClient, StreamConnector};

use crate::interop::{
    request, response, EchoRequest, EchoResponse, FailRequest, RejectRequest, Request, Response,
    SleepRequest, StatsRequest, StatsResponse, StreamRequest,
};
use crate::{ClientCodec, DETAIL_TYPE_URL};

/// Every scenario, in the order `all` runs them.
pub const SCENARIOS: &[&str] = &[
    "unary",
    "empty",
    "large",
    "concurrent",
    "stream",
    "stream_100k",
    "cancel_stream",
    "cancel_unary",
    "error",
    "reject",
    "stats",
];

/// Upper bound for one scenario; a scenario that takes longer fails (never hangs).
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the cancel scenarios poll `stats` for the server to observe the Cancel.
pub const CANCEL_OBSERVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Request ids: one process-wide counter starting at 1, like the reference examples.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

type Client = RpcClient<Request, Response>;
type Outcome = Result<(), String>;

/// A connection used by one scenario; its `Connection` task is aborted on drop.
struct Peer {
    client: Client,
    connection: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

fn request(body: request::Body) -> Request {
    Request {
        request_id: next_id(),
        code: 0,
        body: Some(body),
    }
}

fn echo_body(message: &str, payload: Vec<u8>) -> request::Body {
    request::Body::Echo(EchoRequest {
        message: message.to_string(),
        payload,
    })
}

/// Checks that a unary answer is a Normal frame for `id` and returns its body.
fn normal_body(
    id: u64,
    result: protosocket_rpc::Result<Response>,
) -> Result<Option<response::Body>, String> {
    let response = result.map_err(|e| format!("rpc {id} failed: {e}"))?;
    if response.request_id != id {
        return Err(format!(
            "response id {} for request {id}",
            response.request_id
        ));
    }
    if response.code != 0 {
        return Err(format!("response code {} (expected 0)", response.code));
    }
    Ok(response.body)
}

fn describe(body: &Option<response::Body>) -> String {
    match body {
        None => "no body".to_string(),
        Some(body) => {
            let text = format!("{body:?}");
            if text.chars().count() > 120 {
                format!("{}…", text.chars().take(120).collect::<String>())
            } else {
                text
            }
        }
    }
}

impl Peer {
    async fn connect<C>(addr: SocketAddr, configuration: &Configuration<C>) -> Result<Self, String>
    where
        C: StreamConnector,
    {
        let (client, connection) =
            protosocket_rpc::client::connect::<ClientCodec, C>(addr, configuration)
                .await
                .map_err(|e| format!("connect to {addr}: {e}"))?;
        let connection = tokio::spawn(connection);
        Ok(Self { client, connection })
    }

    async fn unary(&self, body: request::Body) -> Result<Option<response::Body>, String> {
        let req = request(body);
        let id = req.request_id;
        let completion = self
            .client
            .send_unary(req)
            .map_err(|e| format!("send: {e}"))?;
        normal_body(id, completion.await)
    }

    async fn echo(&self, message: &str, payload: Vec<u8>) -> Result<EchoResponse, String> {
        match self.unary(echo_body(message, payload)).await? {
            Some(response::Body::Echo(echo)) => Ok(echo),
            other => Err(format!("expected the echo case, got {}", describe(&other))),
        }
    }

    async fn stats(&self) -> Result<StatsResponse, String> {
        match self.unary(request::Body::Stats(StatsRequest {})).await? {
            Some(response::Body::Stats(stats)) => Ok(stats),
            other => Err(format!(
                "stats: expected the stats case, got {}",
                describe(&other)
            )),
        }
    }

    /// Polls stats until `check` holds, for at most `CANCEL_OBSERVE_TIMEOUT`.
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

    /// Reads a whole stream; returns its items' (sequence, payload length).
    async fn stream(&self, count: u64, payload_size: u32) -> Result<Vec<(u64, usize)>, String> {
        let req = request(request::Body::Stream(StreamRequest {
            count,
            payload_size,
            item_delay_ms: 0,
        }));
        let id = req.request_id;
        let mut stream = self
            .client
            .send_streaming(req)
            .map_err(|e| format!("send: {e}"))?;
        let mut items = Vec::with_capacity(count as usize);
        loop {
            match stream.next().await {
                Some(Ok(item)) => {
                    if item.request_id != id || item.code != 0 {
                        return Err(format!(
                            "item {} has id {} code {}",
                            items.len(),
                            item.request_id,
                            item.code
                        ));
                    }
                    match item.body {
                        Some(response::Body::Stream(item)) => {
                            items.push((item.sequence, item.payload.len()))
                        }
                        other => {
                            return Err(format!(
                                "item {}: expected the stream case, got {}",
                                items.len(),
                                describe(&other)
                            ))
                        }
                    }
                }
                Some(Err(protosocket_rpc::Error::Finished)) => break,
                Some(Err(e)) => {
                    return Err(format!("stream error after {} items: {e}", items.len()))
                }
                None => {
                    return Err(format!(
                        "stream ended without Finished after {} items",
                        items.len()
                    ))
                }
            }
        }
        if stream.next().await.is_some() {
            return Err("stream yielded after Finished".to_string());
        }
        Ok(items)
    }
}

fn check_items(items: &[(u64, usize)], count: u64, payload_size: usize) -> Outcome {
    if items.len() as u64 != count {
        return Err(format!("got {} items, expected {count} (stream finished early: End, Cancel or connection loss)", items.len()));
    }
    for (index, (sequence, len)) in items.iter().enumerate() {
        if *sequence != index as u64 {
            return Err(format!("item {index} has sequence {sequence}"));
        }
        if *len != payload_size {
            return Err(format!(
                "item {index} has a {len}-byte payload, expected {payload_size}"
            ));
        }
    }
    Ok(())
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + 7) % 251) as u8).collect()
}

async fn scenario_unary(peer: &Peer) -> Outcome {
    let echo = peer.echo("hello", vec![1, 2, 3, 4, 5]).await?;
    if echo.message != "hello" || echo.payload != [1, 2, 3, 4, 5] {
        return Err(format!("echo mismatch: {echo:?}"));
    }
    Ok(())
}

async fn scenario_empty(peer: &Peer) -> Outcome {
    let echo = peer.echo("", Vec::new()).await?;
    if echo != EchoResponse::default() {
        return Err(format!("expected an empty EchoResponse, got {echo:?}"));
    }
    Ok(())
}

async fn scenario_large(peer: &Peer) -> Outcome {
    let payload = pattern(3 * 1024 * 1024);
    let echo = peer.echo("large", payload.clone()).await?;
    if echo.message != "large" {
        return Err(format!("message {:?}", echo.message));
    }
    if echo.payload.len() != payload.len() {
        return Err(format!(
            "payload of {} bytes, expected {}",
            echo.payload.len(),
            payload.len()
        ));
    }
    if let Some(at) = echo.payload.iter().zip(&payload).position(|(a, b)| a != b) {
        return Err(format!("payload differs at byte {at}"));
    }
    Ok(())
}

async fn scenario_concurrent(peer: &Peer) -> Outcome {
    const CALLS: usize = 1000;
    let mut calls = Vec::with_capacity(CALLS);
    for i in 0..CALLS {
        let message = format!("concurrent-{i}");
        let req = request(echo_body(&message, (i as u32).to_le_bytes().to_vec()));
        let id = req.request_id;
        let completion = peer
            .client
            .send_unary(req)
            .map_err(|e| format!("send {i}: {e}"))?;
        calls.push(async move { (i, message, normal_body(id, completion.await)) });
    }
    // All 1000 are submitted before any is awaited: they are in flight together.
    for (i, message, result) in futures::future::join_all(calls).await {
        match result? {
            Some(response::Body::Echo(echo)) => {
                if echo.message != message || echo.payload != (i as u32).to_le_bytes() {
                    return Err(format!("call {i} got {echo:?}"));
                }
            }
            other => {
                return Err(format!(
                    "call {i}: expected the echo case, got {}",
                    describe(&other)
                ))
            }
        }
    }
    Ok(())
}

async fn scenario_stream(peer: &Peer) -> Outcome {
    let items = peer.stream(10, 8).await?;
    check_items(&items, 10, 8)
}

async fn scenario_stream_100k(peer: &Peer) -> Outcome {
    let items = peer.stream(100_000, 16).await?;
    check_items(&items, 100_000, 16)
}

async fn scenario_cancel_stream(peer: &Peer) -> Outcome {
    let before = peer.stats().await?;
    let req = request(request::Body::Stream(StreamRequest {
        count: 1_000_000,
        payload_size: 8,
        item_delay_ms: 1,
    }));
    let mut stream = peer
        .client
        .send_streaming(req)
        .map_err(|e| format!("send: {e}"))?;
    for expected in 0..5u64 {
        match stream.next().await {
            Some(Ok(Response {
                body: Some(response::Body::Stream(item)),
                ..
            })) if item.sequence == expected => {}
            other => return Err(format!("item {expected}: got {other:?}")),
        }
    }
    // Dropping the completion before it finished sends a Cancel for its id.
    drop(stream);
    peer.wait_for_stats("cancelled_handlers did not increase", |stats| {
        stats.cancelled_handlers > before.cancelled_handlers
    })
    .await
}

async fn scenario_cancel_unary(peer: &Peer) -> Outcome {
    let before = peer.stats().await?;
    let req = request(request::Body::Sleep(SleepRequest { ms: 10_000 }));
    let completion = peer
        .client
        .send_unary(req)
        .map_err(|e| format!("send: {e}"))?;
    // The timeout drops the completion after 100 ms, which sends a Cancel.
    match tokio::time::timeout(Duration::from_millis(100), completion).await {
        Err(_elapsed) => {}
        Ok(result) => return Err(format!("sleep 10000 ms answered within 100 ms: {result:?}")),
    }
    peer.wait_for_stats("cancelled_handlers did not increase", |stats| {
        stats.cancelled_handlers > before.cancelled_handlers
    })
    .await
}

async fn scenario_error(peer: &Peer) -> Outcome {
    let body = peer
        .unary(request::Body::Fail(FailRequest {
            code: 5,
            message: "not here".to_string(),
            with_details: true,
        }))
        .await?;
    let status = match body {
        Some(response::Body::Error(status)) => status,
        other => return Err(format!("expected the error case, got {}", describe(&other))),
    };
    if status.code != 5 || status.message != "not here" {
        return Err(format!(
            "status code {} message {:?}",
            status.code, status.message
        ));
    }
    if status.details.len() != 1 {
        return Err(format!("{} details, expected 1", status.details.len()));
    }
    let detail = &status.details[0];
    if detail.type_url != DETAIL_TYPE_URL {
        return Err(format!("detail type_url {:?}", detail.type_url));
    }
    let echo = EchoResponse::decode(detail.value.as_slice())
        .map_err(|e| format!("detail does not decode: {e}"))?;
    if echo.message != "detail" || !echo.payload.is_empty() {
        return Err(format!("detail is {echo:?}"));
    }
    Ok(())
}

async fn scenario_reject(peer: &Peer) -> Outcome {
    let before = peer.stats().await?;
    let req = request(request::Body::Reject(RejectRequest {}));
    let completion = peer
        .client
        .send_unary(req)
        .map_err(|e| format!("send: {e}"))?;
    match completion.await {
        Err(protosocket_rpc::Error::CancelledRemotely) => {}
        other => return Err(format!("expected CancelledRemotely, got {other:?}")),
    }
    peer.wait_for_stats("rejected did not increase", |stats| {
        stats.rejected > before.rejected
    })
    .await
}

async fn scenario_stats(peer: &Peer) -> Outcome {
    let first = peer.stats().await?;
    peer.echo("stats", Vec::new()).await?;
    let second = peer.stats().await?;
    if second.completed < first.completed + 1 {
        return Err(format!(
            "completed did not count an echo: {first:?} then {second:?}"
        ));
    }
    if second.cancelled_handlers < first.cancelled_handlers || second.rejected < first.rejected {
        return Err(format!(
            "counters went backwards: {first:?} then {second:?}"
        ));
    }
    Ok(())
}

/// Runs one scenario on a fresh connection.
pub async fn run_scenario<C>(
    name: &str,
    addr: SocketAddr,
    configuration: &Configuration<C>,
) -> Outcome
where
    C: StreamConnector,
{
    let run = async {
        let peer = Peer::connect(addr, configuration).await?;
        match name {
            "unary" => scenario_unary(&peer).await,
            "empty" => scenario_empty(&peer).await,
            "large" => scenario_large(&peer).await,
            "concurrent" => scenario_concurrent(&peer).await,
            "stream" => scenario_stream(&peer).await,
            "stream_100k" => scenario_stream_100k(&peer).await,
            "cancel_stream" => scenario_cancel_stream(&peer).await,
            "cancel_unary" => scenario_cancel_unary(&peer).await,
            "error" => scenario_error(&peer).await,
            "reject" => scenario_reject(&peer).await,
            "stats" => scenario_stats(&peer).await,
            other => Err(format!("unknown scenario {other:?}")),
        }
    };
    match tokio::time::timeout(SCENARIO_TIMEOUT, run).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("timed out after {SCENARIO_TIMEOUT:?}")),
    }
}

/// Expands `all` and checks names; keeps the order given.
pub fn resolve_scenarios(names: &[String]) -> Result<Vec<&'static str>, String> {
    let mut out = Vec::new();
    let names: Vec<String> = if names.is_empty() {
        vec!["all".to_string()]
    } else {
        names.to_vec()
    };
    for name in &names {
        if name == "all" {
            out.extend_from_slice(SCENARIOS);
        } else if let Some(known) = SCENARIOS.iter().find(|s| **s == name.as_str()) {
            out.push(*known);
        } else {
            return Err(format!(
                "unknown scenario {name:?}; known: all, {}",
                SCENARIOS.join(", ")
            ));
        }
    }
    Ok(out)
}

/// Runs the scenarios in order, printing `PASS name` / `FAIL name: reason` lines to
/// stdout. Returns the number of failures.
pub async fn run_all<C>(names: &[&str], addr: SocketAddr, configuration: &Configuration<C>) -> usize
where
    C: StreamConnector,
{
    use std::io::Write;
    let mut failures = 0;
    for name in names {
        let outcome = run_scenario(name, addr, configuration).await;
        let mut stdout = std::io::stdout().lock();
        match outcome {
            Ok(()) => {
                let _ = writeln!(stdout, "PASS {name}");
            }
            Err(reason) => {
                failures += 1;
                let reason = reason.replace('\n', " ");
                let _ = writeln!(stdout, "FAIL {name}: {reason}");
            }
        }
        let _ = stdout.flush();
    }
    failures
}
