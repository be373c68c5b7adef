//! The standard envelope (`proto/protosocket/v1/standard.proto`) on the real crates: one
//! protobuf message pair, `protosocket.v1.Request` / `Response`, with a
//! `protosocket_rpc::Message` impl each, carrying any service's methods by name — here the
//! gRPC-style `routeguide.v1` services, which have no envelope of their own.
//!
//! The server (`std-interop-server`) answers, per method named in the request:
//!
//! | method | answer |
//! |---|---|
//! | `routeguide.v1.RouteGuideService/GetFeature` | unary: `Feature{name: "feature at <lat>,<lng>", location}`, with trailers `echo-<key>` for each request metadata entry and `deadline-ms` when the request had a deadline; at (0, 0) the error `not_found` "no feature at 0,0" with the point as an `Any` detail; at latitude −1 it answers after 10 s, or `deadline_exceeded` when the request's deadline passes first |
//! | `routeguide.v1.RouteGuideService/ListFeatures` | streaming: `Feature{name: "f<lat>"}` for each latitude from `lo` to `hi`, then End |
//! | `routeguide.v1.RouteStatsService/GetStats` | unary: `calls` (requests so far), `by_method["cancelled"]` (rpcs dropped before they finished: a client Cancel or a lost connection) |
//! | any other method | the error `unimplemented` "<method> is not served here" |
//! | no method | Cancel (`RpcKind::Cancelled`) |
//!
//! Client and bidi streaming are protosocket-ts's extension: the Rust crate has no such rpc,
//! so `RecordRoute` and `RouteChat` are "other methods" here.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use prost::Message as _;
use protosocket::{SocketListener, TcpSocketListener};
use protosocket_rpc::server::{ConnectionService, RpcKind, SocketRpcServer, SocketService};
use protosocket_rpc::{Message, ProtosocketControlCode};

use crate::pb::protosocket::v1::{Request, Response, Status};
use crate::pb::routeguide::v1::{Feature, GetStatsResponse, Point, Rectangle};
use crate::server::{
    listen, BoundServer, BUFFER_ALLOCATION_INCREMENT, MAX_QUEUED_OUTBOUND_MESSAGES,
};

/// The method names the server serves.
pub const GET_FEATURE: &str = "routeguide.v1.RouteGuideService/GetFeature";
pub const LIST_FEATURES: &str = "routeguide.v1.RouteGuideService/ListFeatures";
pub const GET_STATS: &str = "routeguide.v1.RouteStatsService/GetStats";

/// Type URL of the detail of GetFeature's not_found error.
pub const POINT_TYPE_URL: &str = "type.googleapis.com/routeguide.v1.Point";

impl Message for Request {
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
        Request {
            message_id,
            control_code: ProtosocketControlCode::Cancel.as_u8() as u32,
            ..Default::default()
        }
    }

    fn ended(message_id: u64) -> Self {
        Request {
            message_id,
            control_code: ProtosocketControlCode::End.as_u8() as u32,
            ..Default::default()
        }
    }
}

impl Message for Response {
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
        Response {
            message_id,
            control_code: ProtosocketControlCode::Cancel.as_u8() as u32,
            ..Default::default()
        }
    }

    fn ended(message_id: u64) -> Self {
        Response {
            message_id,
            control_code: ProtosocketControlCode::End.as_u8() as u32,
            ..Default::default()
        }
    }
}

/// The codec of a server connection on the standard envelope.
pub type StandardServerCodec = (
    protosocket::PooledEncoder<protosocket_prost::ProstSerializer<Response>>,
    protosocket_prost::ProstDecoder<Request>,
);

/// The codec of a client connection on the standard envelope.
pub type StandardClientCodec = (
    protosocket::PooledEncoder<protosocket_prost::ProstSerializer<Request>>,
    protosocket_prost::ProstDecoder<Response>,
);

/// Requests received.
static CALLS: AtomicU64 = AtomicU64::new(0);
/// Rpcs dropped before they finished.
static CANCELLED: AtomicU64 = AtomicU64::new(0);

/// Counts an rpc as cancelled when dropped before [`Guard::finish`].
struct Guard {
    finished: bool,
}

impl Guard {
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.finished {
            CANCELLED.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A response carrying `message` as its body.
pub fn body_response(message: &impl prost::Message, metadata: HashMap<String, String>) -> Response {
    // The connection stamps message_id on every response it sends.
    Response {
        body: message.encode_to_vec(),
        metadata,
        ..Default::default()
    }
}

/// A response carrying an error.
pub fn error_response(code: i32, message: String, details: Vec<prost_types::Any>) -> Response {
    Response {
        error: Some(Status {
            code,
            message,
            details,
        }),
        ..Default::default()
    }
}

fn get_feature(request: Request) -> BoxFuture<'static, Response> {
    let guard = Guard { finished: false };
    async move {
        let point = match Point::decode(request.body.as_slice()) {
            Ok(point) => point,
            Err(e) => {
                guard.finish();
                return error_response(3, format!("not a routeguide.v1.Point: {e}"), Vec::new());
            }
        };
        let mut trailers: HashMap<String, String> = request
            .metadata
            .iter()
            .map(|(k, v)| (format!("echo-{k}"), v.clone()))
            .collect();
        if request.deadline_ms > 0 {
            trailers.insert("deadline-ms".to_string(), request.deadline_ms.to_string());
        }
        if point.latitude == -1 {
            let slow = tokio::time::sleep(Duration::from_secs(10));
            if request.deadline_ms > 0 {
                if tokio::time::timeout(Duration::from_millis(request.deadline_ms), slow)
                    .await
                    .is_err()
                {
                    guard.finish();
                    return error_response(4, "the deadline passed".to_string(), Vec::new());
                }
            } else {
                slow.await;
            }
        }
        guard.finish();
        if point.latitude == 0 && point.longitude == 0 {
            let detail = prost_types::Any {
                type_url: POINT_TYPE_URL.to_string(),
                value: point.encode_to_vec(),
            };
            let mut response = error_response(5, "no feature at 0,0".to_string(), vec![detail]);
            response.metadata = trailers;
            return response;
        }
        let feature = Feature {
            name: format!("feature at {},{}", point.latitude, point.longitude),
            location: Some(point),
        };
        body_response(&feature, trailers)
    }
    .boxed()
}

fn list_features(request: Request) -> BoxStream<'static, Response> {
    let rect = Rectangle::decode(request.body.as_slice()).unwrap_or_default();
    let lo = rect.lo.map(|p| p.latitude).unwrap_or(0);
    let hi = rect.hi.map(|p| p.latitude).unwrap_or(0);
    let guard = Some(Guard { finished: false });
    futures::stream::unfold((lo, hi, guard), |(next, hi, mut guard)| async move {
        if next > hi {
            if let Some(g) = guard.take() {
                g.finish();
            }
            return None;
        }
        let feature = Feature {
            name: format!("f{next}"),
            location: Some(Point {
                latitude: next,
                longitude: next,
            }),
        };
        Some((
            body_response(&feature, HashMap::new()),
            (next + 1, hi, guard),
        ))
    })
    .boxed()
}

fn ready(response: Response) -> BoxFuture<'static, Response> {
    async move { response }.boxed()
}

/// One per connection.
#[derive(Debug, Default)]
pub struct StandardConnection;

impl ConnectionService for StandardConnection {
    type Codec = StandardServerCodec;
    type Request = Request;
    type Response = Response;
    type UnaryFutureType = BoxFuture<'static, Response>;
    type StreamType = BoxStream<'static, Response>;

    fn new_rpc(&mut self, request: Request) -> RpcKind<Self::UnaryFutureType, Self::StreamType> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        match request.method.as_str() {
            GET_FEATURE => RpcKind::Unary(get_feature(request)),
            LIST_FEATURES => RpcKind::Streaming(list_features(request)),
            GET_STATS => {
                let stats = GetStatsResponse {
                    calls: CALLS.load(Ordering::SeqCst),
                    by_method: HashMap::from([(
                        "cancelled".to_string(),
                        CANCELLED.load(Ordering::SeqCst),
                    )]),
                };
                RpcKind::Unary(ready(body_response(&stats, HashMap::new())))
            }
            "" => RpcKind::Cancelled,
            other => RpcKind::Unary(ready(error_response(
                12,
                format!("{other} is not served here"),
                Vec::new(),
            ))),
        }
    }
}

/// Creates a [`StandardConnection`] per accepted stream.
#[derive(Default)]
pub struct StandardService;

impl SocketService for StandardService {
    type ConnectionService = StandardConnection;
    type SocketListener = TcpSocketListener;

    fn codec(&mut self) -> StandardServerCodec {
        Default::default()
    }

    fn new_stream_service(
        &mut self,
        _stream: &<TcpSocketListener as SocketListener>::Stream,
    ) -> StandardConnection {
        StandardConnection
    }
}

/// Binds the standard-envelope server on `addr` (plain TCP). Must be called inside a tokio runtime.
pub fn bind(addr: SocketAddr, max_buffer_length: usize) -> std::io::Result<BoundServer> {
    let (tcp, local_addr) = listen(addr)?;
    let server = SocketRpcServer::new(
        tcp,
        StandardService,
        max_buffer_length,
        BUFFER_ALLOCATION_INCREMENT,
        MAX_QUEUED_OUTBOUND_MESSAGES,
    )
    .map_err(std::io::Error::other)?;
    Ok(BoundServer {
        local_addr,
        serve: Box::pin(server),
    })
}
