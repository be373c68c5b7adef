//! bench-loadgen: a load generator of the benchmark (bench/) built on the protosocket-rpc
//! client, to drive a server (ours or the Rust one) with a client that costs little.
//!
//! `bench-loadgen --spec '<MeasurementSpec JSON>'` runs one measurement exactly as
//! bench/src/loadgen.ts does and speaks its line protocol on stdout: `READY` (connected),
//! `MEASURE` (warm-up over), `DONE` (window over), `RESULT {json}` (a LoadResult, or
//! `{"failed": message}`). Workloads `unary` and `unary-64k` (a closed loop with exactly
//! `concurrency` calls in flight on one connection) and `stream`. One thread.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use protosocket_interop::bench::{
    order, process_stats, BenchClientCodec, EchoClientCodec, ECHO_MESSAGE, GRPC_PAYLOAD_BYTES, ORDER_ID, ORDER_PLACED,
};
use protosocket_interop::pb::bench::v1 as bench;
use protosocket_interop::pb::echo::v1 as echo;
use protosocket_rpc::client::{Configuration, RpcClient, TcpStreamConnector};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(about = "protosocket-rpc load generator of the benchmark")]
struct Args {
    /// The MeasurementSpec (bench/src/workloads.ts) as JSON.
    #[arg(long)]
    spec: String,
}

struct Spec {
    workload: String,
    set: String,
    addr: SocketAddr,
    concurrency: usize,
    payload_bytes: usize,
    stream_count: u32,
    warmup: Duration,
    duration: Duration,
}

fn parse(spec: &str) -> Result<Spec, String> {
    let v: Value = serde_json::from_str(spec).map_err(|e| format!("--spec: {e}"))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string).ok_or(format!("--spec: no {k}"));
    let n = |k: &str| v.get(k).and_then(Value::as_f64).ok_or(format!("--spec: no {k}"));
    let host = s("host")?;
    let port = n("port")? as u16;
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("{host}:{port}: {e}"))?
        .next()
        .ok_or(format!("{host}:{port}: no address"))?;
    Ok(Spec {
        workload: s("workload")?,
        set: s("set")?,
        addr,
        concurrency: n("concurrency")? as usize,
        payload_bytes: n("payloadBytes")? as usize,
        stream_count: n("streamCount")? as u32,
        warmup: Duration::from_secs_f64(n("warmupSeconds")?),
        duration: Duration::from_secs_f64(n("durationSeconds")?),
    })
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How to make the calls of one message set and check their answers.
struct Calls<Req, Res> {
    unary: Box<dyn Fn(u64) -> Req + Send + Sync>,
    check: Box<dyn Fn(Res) -> Result<(), String> + Send + Sync>,
    stream: Box<dyn Fn(u64, u32) -> Req + Send + Sync>,
}

#[derive(Clone, Copy)]
struct Sample {
    user: u64,
    system: u64,
    rss: u64,
    at: Instant,
}

fn sample() -> Sample {
    let (user, system, rss) = process_stats();
    Sample { user, system, rss, at: Instant::now() }
}

fn result(start: Sample, end: Sample, operations: u64, errors: u64, first_error: Option<String>, mut latencies: Vec<u32>) -> Value {
    let elapsed = end.at.duration_since(start.at).as_secs_f64();
    latencies.sort_unstable();
    let latency = if latencies.is_empty() {
        Value::Null
    } else {
        let at = |q: f64| latencies[((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1];
        let mean = latencies.iter().map(|&l| l as f64).sum::<f64>() / latencies.len() as f64;
        json!({ "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "p999": at(0.999), "max": latencies[latencies.len() - 1], "mean": mean.round() })
    };
    let mut out = json!({
        "operations": operations,
        "rate": operations as f64 / elapsed,
        "elapsedSeconds": elapsed,
        "errors": errors,
        "latencyUs": latency,
        "histogram": null,
        "cpuUs": { "user": end.user - start.user, "system": end.system - start.system },
        "rss": { "start": start.rss, "end": end.rss },
        "heapUsed": { "start": 0, "end": 0 },
    });
    if let Some(e) = first_error {
        out["firstError"] = json!(e);
    }
    out
}

async fn closed_loop<Req, Res>(spec: &Spec, client: RpcClient<Req, Res>, calls: Arc<Calls<Req, Res>>) -> Value
where
    Req: protosocket_rpc::Message + 'static,
    Res: protosocket_rpc::Message + 'static,
{
    let ops = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let running = Arc::new(AtomicBool::new(true));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let mut tasks = Vec::with_capacity(spec.concurrency);
    for _ in 0..spec.concurrency {
        let (client, calls, ops, errors, measuring, running, first_error) =
            (client.clone(), calls.clone(), ops.clone(), errors.clone(), measuring.clone(), running.clone(), first_error.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while running.load(Ordering::Relaxed) {
                let started = Instant::now();
                let outcome = match client.send_unary((calls.unary)(NEXT_ID.fetch_add(1, Ordering::Relaxed))) {
                    Ok(completion) => match completion.await {
                        Ok(response) => (calls.check)(response),
                        Err(e) => Err(e.to_string()),
                    },
                    Err(e) => Err(e.to_string()),
                };
                match outcome {
                    Ok(()) => {
                        if measuring.load(Ordering::Relaxed) {
                            ops.fetch_add(1, Ordering::Relaxed);
                            latencies.push(started.elapsed().as_micros().max(1) as u32);
                        }
                    }
                    Err(e) => {
                        let n = errors.fetch_add(1, Ordering::Relaxed) + 1;
                        first_error.lock().unwrap().get_or_insert(e);
                        // A system that only fails would spin: give up, the report shows the error.
                        if n > 1000 && n > ops.load(Ordering::Relaxed) {
                            running.store(false, Ordering::Relaxed);
                        }
                    }
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(spec.warmup).await;
    errors.store(0, Ordering::Relaxed);
    measuring.store(true, Ordering::Relaxed);
    let start = sample();
    say("MEASURE");
    tokio::time::sleep(spec.duration).await;
    let operations = ops.load(Ordering::Relaxed);
    measuring.store(false, Ordering::Relaxed);
    let end = sample();
    say("DONE");
    running.store(false, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        if let Ok(mut l) = task.await {
            latencies.append(&mut l);
        }
    }
    // Completions recorded after the window closed but before the flag was seen are dropped.
    latencies.truncate(operations as usize);
    let error = first_error.lock().unwrap().clone();
    result(start, end, operations, errors.load(Ordering::Relaxed), error, latencies)
}

async fn one_stream<Req, Res>(client: &RpcClient<Req, Res>, calls: &Calls<Req, Res>, count: u32) -> Result<u64, String>
where
    Req: protosocket_rpc::Message + 'static,
    Res: protosocket_rpc::Message + 'static,
{
    let mut stream = client.send_streaming((calls.stream)(NEXT_ID.fetch_add(1, Ordering::Relaxed), count)).map_err(|e| e.to_string())?;
    let mut received = 0u64;
    loop {
        match stream.next().await {
            Some(Ok(_)) => received += 1,
            Some(Err(protosocket_rpc::Error::Finished)) | None => return Ok(received),
            Some(Err(e)) => return Err(format!("stream failed after {received} messages: {e}")),
        }
    }
}

async fn streaming<Req, Res>(spec: &Spec, client: RpcClient<Req, Res>, calls: Arc<Calls<Req, Res>>) -> Value
where
    Req: protosocket_rpc::Message + 'static,
    Res: protosocket_rpc::Message + 'static,
{
    let warmup = (spec.stream_count / 5).max(10_000);
    match one_stream(&client, &calls, warmup).await {
        Ok(n) if n == warmup as u64 => {}
        Ok(n) => return json!({ "failed": format!("warm-up stream delivered {n} of {warmup} messages") }),
        Err(e) => return json!({ "failed": e }),
    }
    let start = sample();
    say("MEASURE");
    let outcome = one_stream(&client, &calls, spec.stream_count).await;
    let end = sample();
    say("DONE");
    match outcome {
        Ok(n) if n == spec.stream_count as u64 => result(start, end, n, 0, None, Vec::new()),
        Ok(n) => result(start, end, n, 1, Some(format!("stream delivered {n} of {} messages", spec.stream_count)), Vec::new()),
        Err(e) => result(start, end, 0, 1, Some(e), Vec::new()),
    }
}

async fn run_with<Codec, Req, Res>(spec: &Spec, calls: Calls<Req, Res>) -> Value
where
    Codec: protosocket::Codec + Default + Send + 'static,
    Codec: protosocket::Encoder<Message = Req> + protosocket::Decoder<Message = Res>,
    <Codec as protosocket::Encoder>::Serialized: Send,
    Req: protosocket_rpc::Message + 'static,
    Res: protosocket_rpc::Message + 'static,
{
    let mut configuration = Configuration::new(TcpStreamConnector);
    configuration.max_buffer_length(16 << 20);
    let (client, connection) = match protosocket_rpc::client::connect::<Codec, TcpStreamConnector>(spec.addr, &configuration).await {
        Ok(c) => c,
        Err(e) => return json!({ "failed": format!("connect to {}: {e}", spec.addr) }),
    };
    tokio::spawn(connection);
    say("READY");
    let calls = Arc::new(calls);
    match spec.workload.as_str() {
        "unary" | "unary-64k" => closed_loop(spec, client, calls).await,
        "stream" => streaming(spec, client, calls).await,
        other => json!({ "failed": format!("bench-loadgen does not run the {other} workload") }),
    }
}

fn echo_calls(payload_bytes: usize) -> Calls<echo::EchoRequestEnvelope, echo::EchoResponseEnvelope> {
    use echo::echo_request_envelope::Body as In;
    use echo::echo_response_envelope::Body as Out;
    Calls {
        unary: Box::new(move |id| echo::EchoRequestEnvelope {
            message_id: id,
            control_code: 0,
            body: Some(In::Echo(echo::EchoRequest { message: ECHO_MESSAGE.into(), payload: vec![0x61; payload_bytes] })),
            ..Default::default()
        }),
        check: Box::new(move |res| match res.body {
            Some(Out::Echo(e)) if e.payload.len() == payload_bytes => Ok(()),
            other => Err(format!("Echo answered {other:?}")),
        }),
        stream: Box::new(|id, count| echo::EchoRequestEnvelope {
            message_id: id,
            control_code: 0,
            body: Some(In::Count(echo::CountRequest { count, delay_ms: 0, payload_size: 0 })),
            ..Default::default()
        }),
    }
}

fn bench_calls(set: &str, payload_bytes: usize) -> Calls<bench::BenchRequestEnvelope, bench::BenchResponseEnvelope> {
    use bench::bench_request_envelope::Body as In;
    use bench::bench_response_envelope::Body as Out;
    let realistic = set == "realistic";
    Calls {
        unary: Box::new(move |id| bench::BenchRequestEnvelope {
            message_id: id,
            control_code: 0,
            body: Some(if realistic {
                In::PlaceOrder(order())
            } else {
                In::UnaryCall(bench::SimpleRequest {
                    response_size: payload_bytes as i32,
                    payload: Some(bench::Payload { r#type: 0, body: vec![0x61; payload_bytes] }),
                    ..Default::default()
                })
            }),
        }),
        check: Box::new(move |res| match res.body {
            Some(Out::PlaceOrder(o)) if o.id == ORDER_ID && o.status == ORDER_PLACED && o.tags.len() == 3 => Ok(()),
            Some(Out::UnaryCall(r)) if r.payload.as_ref().map(|p| p.body.len()) == Some(payload_bytes) => Ok(()),
            other => Err(format!("answered {:?}", other.map(|_| "another body"))),
        }),
        stream: Box::new(move |id, count| bench::BenchRequestEnvelope {
            message_id: id,
            control_code: 0,
            body: Some(if realistic {
                In::ListOrders(bench::ListOrdersRequest { count })
            } else {
                In::StreamingFromServer(bench::StreamingFromServerRequest {
                    request: Some(bench::SimpleRequest { response_size: GRPC_PAYLOAD_BYTES, ..Default::default() }),
                    count,
                })
            }),
        }),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let outcome = match parse(&args.spec) {
        Err(e) => json!({ "failed": e }),
        Ok(spec) => match spec.set.as_str() {
            "small" => run_with::<EchoClientCodec, _, _>(&spec, echo_calls(spec.payload_bytes)).await,
            "realistic" | "grpc" => run_with::<BenchClientCodec, _, _>(&spec, bench_calls(&spec.set, spec.payload_bytes)).await,
            other => json!({ "failed": format!("unknown message set {other:?}") }),
        },
    };
    let failed = outcome.get("failed").is_some();
    say(&format!("RESULT {outcome}"));
    std::process::exit(if failed { 1 } else { 0 });
}
