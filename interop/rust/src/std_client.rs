//! Scripted scenarios run by `std-interop-client` against any server of the `routeguide.v1`
//! services on the standard envelope that answers as [`crate::standard`] says (this crate's
//! `std-interop-server`, or the TypeScript one in interop/ts).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use prost::Message as _;
use protosocket_rpc::client::{Configuration, RpcClient, StreamConnector};

use crate::pb::protosocket::v1::{Request, Response, Status};
use crate::pb::routeguide::v1::{Feature, GetStatsRequest, GetStatsResponse, Point, Rectangle};
use crate::standard::{StandardClientCodec, GET_FEATURE, GET_STATS, LIST_FEATURES, POINT_TYPE_URL};

/// Every scenario, in the order `all` runs them.
pub const SCENARIOS: &[&str] = &[
    "unary",
    "empty",
    "metadata",
    "error",
    "deadline",
    "unimplemented",
    "concurrent",
    "stream",
    "cancel",
];

/// Upper bound for one scenario.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

type Outcome = Result<(), String>;

struct Peer {
    client: RpcClient<Request, Response>,
    connection: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// A request for `method` carrying `message`.
fn request(method: &str, message: &impl prost::Message) -> Request {
    Request {
        message_id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        method: method.to_string(),
        body: message.encode_to_vec(),
        ..Default::default()
    }
}

/// What a unary call answered: the body, or the error, and the trailers.
enum Answer {
    Body(Vec<u8>, HashMap<String, String>),
    Error(Status),
}

impl Peer {
    async fn connect<C: StreamConnector>(
        addr: SocketAddr,
        configuration: &Configuration<C>,
    ) -> Result<Self, String> {
        let (client, connection) =
            protosocket_rpc::client::connect::<StandardClientCodec, C>(addr, configuration)
                .await
                .map_err(|e| format!("connect to {addr}: {e}"))?;
        Ok(Self {
            client,
            connection: tokio::spawn(connection),
        })
    }

    async fn unary(&self, req: Request) -> Result<Answer, String> {
        let id = req.message_id;
        let completion = self
            .client
            .send_unary(req)
            .map_err(|e| format!("send: {e}"))?;
        let response = completion
            .await
            .map_err(|e| format!("rpc {id} failed: {e}"))?;
        if response.message_id != id || response.control_code != 0 {
            return Err(format!(
                "response id {} code {} for request {id}",
                response.message_id, response.control_code
            ));
        }
        Ok(match response.error {
            Some(status) => Answer::Error(status),
            None => Answer::Body(response.body, response.metadata),
        })
    }

    async fn feature(&self, req: Request) -> Result<(Feature, HashMap<String, String>), String> {
        match self.unary(req).await? {
            Answer::Body(body, trailers) => Ok((
                Feature::decode(body.as_slice()).map_err(|e| format!("not a Feature: {e}"))?,
                trailers,
            )),
            Answer::Error(status) => Err(format!("error {} {:?}", status.code, status.message)),
        }
    }

    async fn error(&self, req: Request) -> Result<Status, String> {
        match self.unary(req).await? {
            Answer::Error(status) => Ok(status),
            Answer::Body(body, _) => Err(format!(
                "expected an error, got a body of {} bytes",
                body.len()
            )),
        }
    }

    async fn stats(&self) -> Result<GetStatsResponse, String> {
        match self.unary(request(GET_STATS, &GetStatsRequest {})).await? {
            Answer::Body(body, _) => GetStatsResponse::decode(body.as_slice())
                .map_err(|e| format!("not GetStatsResponse: {e}")),
            Answer::Error(status) => {
                Err(format!("stats: error {} {:?}", status.code, status.message))
            }
        }
    }
}

fn point(latitude: i32, longitude: i32) -> Point {
    Point {
        latitude,
        longitude,
    }
}

async fn scenario_unary(peer: &Peer) -> Outcome {
    let (feature, _) = peer.feature(request(GET_FEATURE, &point(1, 2))).await?;
    if feature.name != "feature at 1,2" || feature.location != Some(point(1, 2)) {
        return Err(format!("got {feature:?}"));
    }
    Ok(())
}

async fn scenario_empty(peer: &Peer) -> Outcome {
    // GetStatsRequest has no fields: the request carries no body at all.
    let req = request(GET_STATS, &GetStatsRequest {});
    if !req.body.is_empty() {
        return Err("an empty message encoded to bytes".to_string());
    }
    let stats = peer.stats().await?;
    if stats.calls == 0 {
        return Err(format!("stats counted no call: {stats:?}"));
    }
    Ok(())
}

async fn scenario_metadata(peer: &Peer) -> Outcome {
    let mut req = request(GET_FEATURE, &point(3, 4));
    req.metadata
        .insert("x-token".to_string(), "abc".to_string());
    req.deadline_ms = 30_000;
    let (_, trailers) = peer.feature(req).await?;
    if trailers.get("echo-x-token").map(String::as_str) != Some("abc") {
        return Err(format!("trailers {trailers:?} lack echo-x-token: abc"));
    }
    match trailers
        .get("deadline-ms")
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(ms) if ms > 0 && ms <= 30_000 => Ok(()),
        other => Err(format!("deadline-ms trailer {other:?}, expected 1..=30000")),
    }
}

async fn scenario_error(peer: &Peer) -> Outcome {
    let status = peer.error(request(GET_FEATURE, &point(0, 0))).await?;
    if status.code != 5 || status.message != "no feature at 0,0" {
        return Err(format!("status {} {:?}", status.code, status.message));
    }
    match status.details.as_slice() {
        [detail] if detail.type_url == POINT_TYPE_URL => {
            let p = Point::decode(detail.value.as_slice())
                .map_err(|e| format!("detail does not decode: {e}"))?;
            if p != point(0, 0) {
                return Err(format!("detail {p:?}"));
            }
            Ok(())
        }
        other => Err(format!("details {other:?}")),
    }
}

async fn scenario_deadline(peer: &Peer) -> Outcome {
    let mut req = request(GET_FEATURE, &point(-1, 0));
    req.deadline_ms = 200;
    let started = Instant::now();
    let status = peer.error(req).await?;
    if status.code != 4 {
        return Err(format!(
            "status {} {:?}, expected deadline_exceeded (4)",
            status.code, status.message
        ));
    }
    if started.elapsed() >= Duration::from_secs(9) {
        return Err(format!(
            "answered after {:?}: the deadline was not honoured",
            started.elapsed()
        ));
    }
    Ok(())
}

async fn scenario_unimplemented(peer: &Peer) -> Outcome {
    let status = peer
        .error(request(
            "routeguide.v1.RouteGuideService/Nope",
            &point(1, 1),
        ))
        .await?;
    if status.code != 12 {
        return Err(format!(
            "status {} {:?}, expected unimplemented (12)",
            status.code, status.message
        ));
    }
    Ok(())
}

async fn scenario_concurrent(peer: &Peer) -> Outcome {
    const CALLS: i32 = 1000;
    let mut calls = Vec::with_capacity(CALLS as usize);
    for i in 1..=CALLS {
        let req = request(GET_FEATURE, &point(i, i));
        let id = req.message_id;
        let completion = peer
            .client
            .send_unary(req)
            .map_err(|e| format!("send {i}: {e}"))?;
        calls.push(async move { (i, id, completion.await) });
    }
    for (i, id, result) in futures::future::join_all(calls).await {
        let response = result.map_err(|e| format!("call {i}: {e}"))?;
        if response.message_id != id {
            return Err(format!("call {i}: response id {}", response.message_id));
        }
        let feature =
            Feature::decode(response.body.as_slice()).map_err(|e| format!("call {i}: {e}"))?;
        if feature.name != format!("feature at {i},{i}") {
            return Err(format!("call {i} got {feature:?}"));
        }
    }
    Ok(())
}

async fn scenario_stream(peer: &Peer) -> Outcome {
    let rect = Rectangle {
        lo: Some(point(1, 0)),
        hi: Some(point(100, 0)),
    };
    let req = request(LIST_FEATURES, &rect);
    let id = req.message_id;
    let mut stream = peer
        .client
        .send_streaming(req)
        .map_err(|e| format!("send: {e}"))?;
    let mut names = Vec::new();
    loop {
        match stream.next().await {
            Some(Ok(item)) => {
                if item.message_id != id || item.control_code != 0 || item.error.is_some() {
                    return Err(format!(
                        "item {}: id {} code {} error {:?}",
                        names.len(),
                        item.message_id,
                        item.control_code,
                        item.error
                    ));
                }
                let feature = Feature::decode(item.body.as_slice())
                    .map_err(|e| format!("item {}: {e}", names.len()))?;
                names.push(feature.name);
            }
            Some(Err(protosocket_rpc::Error::Finished)) => break,
            Some(Err(e)) => return Err(format!("stream error after {} items: {e}", names.len())),
            None => {
                return Err(format!(
                    "stream ended without Finished after {} items",
                    names.len()
                ))
            }
        }
    }
    let expected: Vec<String> = (1..=100).map(|n| format!("f{n}")).collect();
    if names != expected {
        return Err(format!(
            "got {} items: {:?}…",
            names.len(),
            names.iter().take(3).collect::<Vec<_>>()
        ));
    }
    Ok(())
}

async fn scenario_cancel(peer: &Peer) -> Outcome {
    let before = peer
        .stats()
        .await?
        .by_method
        .get("cancelled")
        .copied()
        .unwrap_or(0);
    let completion = peer
        .client
        .send_unary(request(GET_FEATURE, &point(-1, 0)))
        .map_err(|e| format!("send: {e}"))?;
    // Dropping the completion after 100 ms sends a Cancel for its id.
    if let Ok(result) = tokio::time::timeout(Duration::from_millis(100), completion).await {
        return Err(format!("the slow call answered within 100 ms: {result:?}"));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = peer
            .stats()
            .await?
            .by_method
            .get("cancelled")
            .copied()
            .unwrap_or(0);
        if now > before {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the server counted no cancelled call within 5 s ({before} then {now})"
            ));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Runs one scenario on a fresh connection.
pub async fn run_scenario<C: StreamConnector>(
    name: &str,
    addr: SocketAddr,
    configuration: &Configuration<C>,
) -> Outcome {
    let run = async {
        let peer = Peer::connect(addr, configuration).await?;
        match name {
            "unary" => scenario_unary(&peer).await,
            "empty" => scenario_empty(&peer).await,
            "metadata" => scenario_metadata(&peer).await,
            "error" => scenario_error(&peer).await,
            "deadline" => scenario_deadline(&peer).await,
            "unimplemented" => scenario_unimplemented(&peer).await,
            "concurrent" => scenario_concurrent(&peer).await,
            "stream" => scenario_stream(&peer).await,
            "cancel" => scenario_cancel(&peer).await,
            other => Err(format!("unknown scenario {other:?}")),
        }
    };
    match tokio::time::timeout(SCENARIO_TIMEOUT, run).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("timed out after {SCENARIO_TIMEOUT:?}")),
    }
}

/// Runs the scenarios in order (`all`, or the names given), printing `PASS name` /
/// `FAIL name: reason` per scenario; returns the number of failures, or an unknown name.
pub async fn run_all<C: StreamConnector>(
    names: &[String],
    addr: SocketAddr,
    configuration: &Configuration<C>,
) -> Result<usize, String> {
    use std::io::Write;
    let mut chosen: Vec<&str> = Vec::new();
    for name in names {
        if name == "all" {
            chosen.extend_from_slice(SCENARIOS);
        } else if let Some(known) = SCENARIOS.iter().find(|s| **s == name.as_str()) {
            chosen.push(known);
        } else {
            return Err(format!(
                "unknown scenario {name:?}; known: all, {}",
                SCENARIOS.join(", ")
            ));
        }
    }
    let mut failures = 0;
    for name in &chosen {
        let outcome = run_scenario(name, addr, configuration).await;
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
    let _ = writeln!(
        std::io::stdout(),
        "{} passed, {} failed",
        chosen.len() - failures,
        failures
    );
    Ok(failures)
}
