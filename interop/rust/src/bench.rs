//! The benchmark's Rust peers (bench/README.md): a protosocket-rpc server and a load
//! generator for the benchmark's message sets, so the TypeScript runtime can be measured
//! against the Rust crates with the same envelopes and messages.
//!
//! * `small`: `echo.v1.EchoRequestEnvelope` / `EchoResponseEnvelope` (Echo, Count);
//! * `realistic` and `grpc`: `bench.v1.BenchRequestEnvelope` / `BenchResponseEnvelope`
//!   (PlaceOrder, ListOrders; UnaryCall, StreamingFromServer).
//!
//! The handlers answer what the TypeScript systems answer (bench/src/systems/handlers.ts)
//! and the requests carry what they send (bench/src/messages.ts); keep the constants
//! below equal to that file's.

use std::collections::HashMap;
use std::marker::PhantomData;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use protosocket::SocketListener;
use protosocket_rpc::server::{ConnectionService, RpcKind, SocketService};
use protosocket_rpc::{Message, ProtosocketControlCode};

use crate::pb::bench::v1 as bench;
use crate::pb::echo::v1 as echo;

/// `protosocket_rpc::Message` for envelopes with `message_id` / `control_code`.
macro_rules! envelope {
    ($t:ty) => {
        impl Message for $t {
            fn message_id(&self) -> u64 {
                self.message_id
            }
            fn control_code(&self) -> ProtosocketControlCode {
                ProtosocketControlCode::from_u8(self.control_code as u8)
            }
            fn set_message_id(&mut self, message_id: u64) {
                self.message_id = message_id;
            }
            fn cancelled(message_id: u64) -> Self {
                Self {
                    message_id,
                    control_code: ProtosocketControlCode::Cancel.as_u8() as u32,
                    ..Default::default()
                }
            }
            fn ended(message_id: u64) -> Self {
                Self {
                    message_id,
                    control_code: ProtosocketControlCode::End.as_u8() as u32,
                    ..Default::default()
                }
            }
        }
    };
}

envelope!(echo::EchoRequestEnvelope);
envelope!(echo::EchoResponseEnvelope);
envelope!(bench::BenchRequestEnvelope);
envelope!(bench::BenchResponseEnvelope);

type Encoder<T> = protosocket::PooledEncoder<protosocket_prost::ProstSerializer<T>>;
type Decoder<T> = protosocket_prost::ProstDecoder<T>;

/// Server codec of the small set.
pub type EchoServerCodec = (Encoder<echo::EchoResponseEnvelope>, Decoder<echo::EchoRequestEnvelope>);
/// Client codec of the small set.
pub type EchoClientCodec = (Encoder<echo::EchoRequestEnvelope>, Decoder<echo::EchoResponseEnvelope>);
/// Server codec of the realistic and grpc sets.
pub type BenchServerCodec = (Encoder<bench::BenchResponseEnvelope>, Decoder<bench::BenchRequestEnvelope>);
/// Client codec of the realistic and grpc sets.
pub type BenchClientCodec = (Encoder<bench::BenchRequestEnvelope>, Decoder<bench::BenchResponseEnvelope>);

// ---- the messages (bench/src/messages.ts) ------------------------------------------

/// The realistic order's id (ORDER.id).
pub const ORDER_ID: u64 = 1_234_567_890_123;
/// OrderStatus.PLACED.
pub const ORDER_PLACED: i32 = 1;
/// Payload bytes of the grpc set's stream messages (GRPC_PAYLOAD_BYTES).
pub const GRPC_PAYLOAD_BYTES: i32 = 64;

/// The text every small Echo carries.
pub const ECHO_MESSAGE: &str = "hello";

/// The realistic order every client sends (ORDER).
pub fn order() -> bench::PlaceOrderRequest {
    bench::PlaceOrderRequest {
        id: ORDER_ID,
        created_at_ms: 1_764_000_000_000,
        amount: 1234.56,
        tags: vec!["priority".into(), "gift-wrap".into(), "eu-west-1".into()],
        customer: Some(customer()),
        attributes: attributes(),
    }
}

fn customer() -> bench::Customer {
    bench::Customer {
        id: 42_000_000_017,
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
    }
}

fn attributes() -> HashMap<String, String> {
    [("channel", "web"), ("coupon", "SPRING24"), ("locale", "en-GB")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The n-th order of a ListOrders stream (n from 1).
pub fn streamed_order(n: u64) -> bench::PlaceOrderResponse {
    let o = order();
    bench::PlaceOrderResponse {
        id: ORDER_ID + n,
        created_at_ms: o.created_at_ms,
        amount: o.amount,
        tags: o.tags,
        customer: o.customer,
        attributes: o.attributes,
        status: ORDER_PLACED,
    }
}

// ---- server ------------------------------------------------------------------------

fn ready<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    futures::future::ready(value).boxed()
}

/// Serves the small set (echo.v1): Echo answers the request's message and payload, Count
/// streams { n } for n = 1..count.
#[derive(Debug, Default)]
pub struct EchoConnection;

impl ConnectionService for EchoConnection {
    type Codec = EchoServerCodec;
    type Request = echo::EchoRequestEnvelope;
    type Response = echo::EchoResponseEnvelope;
    type UnaryFutureType = BoxFuture<'static, echo::EchoResponseEnvelope>;
    type StreamType = BoxStream<'static, echo::EchoResponseEnvelope>;

    fn new_rpc(&mut self, request: Self::Request) -> RpcKind<Self::UnaryFutureType, Self::StreamType> {
        use echo::echo_request_envelope::Body as In;
        use echo::echo_response_envelope::Body as Out;
        let reply = |body| echo::EchoResponseEnvelope { message_id: 0, control_code: 0, body: Some(body), ..Default::default() };
        match request.body {
            Some(In::Echo(e)) => RpcKind::Unary(ready(reply(Out::Echo(echo::EchoResponse { message: e.message, payload: e.payload })))),
            Some(In::Count(c)) => RpcKind::Streaming(
                futures::stream::iter(1..=c.count).map(move |n| reply(Out::Count(echo::CountResponse { n, payload: Vec::new() }))).boxed(),
            ),
            _ => RpcKind::Cancelled,
        }
    }
}

/// Serves the realistic and grpc sets (bench.v1).
#[derive(Debug, Default)]
pub struct BenchConnection;

impl ConnectionService for BenchConnection {
    type Codec = BenchServerCodec;
    type Request = bench::BenchRequestEnvelope;
    type Response = bench::BenchResponseEnvelope;
    type UnaryFutureType = BoxFuture<'static, bench::BenchResponseEnvelope>;
    type StreamType = BoxStream<'static, bench::BenchResponseEnvelope>;

    fn new_rpc(&mut self, request: Self::Request) -> RpcKind<Self::UnaryFutureType, Self::StreamType> {
        use bench::bench_request_envelope::Body as In;
        use bench::bench_response_envelope::Body as Out;
        let reply = |body| bench::BenchResponseEnvelope { message_id: 0, control_code: 0, body: Some(body) };
        match request.body {
            Some(In::PlaceOrder(o)) => RpcKind::Unary(ready(reply(Out::PlaceOrder(bench::PlaceOrderResponse {
                id: o.id,
                created_at_ms: o.created_at_ms,
                amount: o.amount,
                tags: o.tags,
                customer: o.customer,
                attributes: o.attributes,
                status: ORDER_PLACED,
            })))),
            Some(In::ListOrders(l)) => RpcKind::Streaming(
                futures::stream::iter(1..=l.count as u64).map(move |n| reply(Out::ListOrders(streamed_order(n)))).boxed(),
            ),
            Some(In::UnaryCall(r)) => RpcKind::Unary(ready(reply(Out::UnaryCall(simple_response(r.response_size))))),
            Some(In::StreamingFromServer(s)) => {
                let size = s.request.map(|r| r.response_size).unwrap_or(0);
                RpcKind::Streaming(futures::stream::iter(0..s.count).map(move |_| reply(Out::StreamingFromServer(simple_response(size)))).boxed())
            }
            None => RpcKind::Cancelled,
        }
    }
}

/// A SimpleResponse with `size` zero bytes of payload, as gRPC's benchmark server answers.
pub fn simple_response(size: i32) -> bench::SimpleResponse {
    bench::SimpleResponse {
        payload: Some(bench::Payload { r#type: 0, body: vec![0; size.max(0) as usize] }),
        ..Default::default()
    }
}

/// One `C` per accepted connection of listener `L`.
pub struct BenchService<C, L> {
    _types: PhantomData<fn() -> (C, L)>,
}

impl<C, L> Default for BenchService<C, L> {
    fn default() -> Self {
        Self { _types: PhantomData }
    }
}

impl<C, L> SocketService for BenchService<C, L>
where
    C: ConnectionService + Default,
    C::Codec: Default,
    L: SocketListener + 'static,
{
    type ConnectionService = C;
    type SocketListener = L;

    fn codec(&mut self) -> C::Codec {
        Default::default()
    }

    fn new_stream_service(&mut self, _stream: &L::Stream) -> C {
        C::default()
    }
}

// ---- process statistics (bench/src/servers/run.ts's STATS line) --------------------

/// user and system CPU of this process in µs, and its resident set in bytes (Linux /proc).
pub fn process_stats() -> (u64, u64, u64) {
    let ticks = |s: &str| s.parse::<u64>().unwrap_or(0) * 10_000; // CLK_TCK = 100
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields after "(comm)": state is the 1st here; utime the 12th, stime the 13th.
    let user = fields.get(11).map(|s| ticks(s)).unwrap_or(0);
    let system = fields.get(12).map(|s| ticks(s)).unwrap_or(0);
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages = statm.split_whitespace().nth(1).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    (user, system, pages * 4096)
}
