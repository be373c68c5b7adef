//! The MessagePack peers of the interop suite, on `protosocket-messagepack` 2.0.2:
//! serde types for two protocols, their `protosocket_rpc::Message` impls, a server
//! (`mp-interop-server`) and scripted scenarios (`mp-interop-client`).
//!
//! * [`interop`]: the interop protocol in MessagePack. Envelopes `{ request_id, code,
//!   body: Option<Body> }` whose body enum has a variant per method (`Echo`, `Stream`,
//!   `Sleep`, `Fail`, `Reject`, `Stats`, `Fidelity`; responses also `Error(Status)`), answered as the
//!   protobuf interop server answers (interop/rust/README.md).
//! * [`example`]: the messages of protosocket's `example-messagepack`, unchanged: a
//!   request `{ request_id, code, body: Option<EchoRequest>, response_behavior }` where
//!   `response_behavior` (`Unary` or `Stream`) picks the kind, and a response
//!   `{ request_id, code, kind: Option<EchoResponseKind> }`. Its server answers as the
//!   example's does (an echo, or one item per byte of the message).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use protosocket::{PooledEncoder, SocketListener};
use protosocket_messagepack::{MessagePackDecoder, MessagePackSerializer};
use protosocket_rpc::server::{ConnectionService, RpcKind, SocketRpcServer, SocketService};
use protosocket_rpc::{Message, ProtosocketControlCode};

/// Handlers that observed a client Cancel (or lost their connection) while running.
pub static CANCELLED_HANDLERS: AtomicU64 = AtomicU64::new(0);
/// Unary responses produced normally and streams that ran to End.
pub static COMPLETED: AtomicU64 = AtomicU64::new(0);
/// Requests rejected with Cancel (`Reject`, and requests without a body).
pub static REJECTED: AtomicU64 = AtomicU64::new(0);

/// Counts how an rpc ended when it is dropped (see server.rs: the only cancellation signal is Drop).
struct Guard {
    finished: bool,
}

impl Guard {
    fn new() -> Self {
        Self { finished: false }
    }

    /// The rpc produced its terminal result. Takes the whole guard, so an async block
    /// moves all of it (not just the field) and drops it when it finishes or is dropped.
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.finished {
            COMPLETED.fetch_add(1, Ordering::SeqCst);
        } else {
            CANCELLED_HANDLERS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

macro_rules! envelope_message {
    ($ty:ident, $body:ident $(, $extra:ident : $value:expr)*) => {
        impl Message for $ty {
            fn message_id(&self) -> u64 {
                self.request_id
            }
            fn control_code(&self) -> ProtosocketControlCode {
                ProtosocketControlCode::from_u8(self.code as u8)
            }
            fn set_message_id(&mut self, message_id: u64) {
                self.request_id = message_id;
            }
            fn cancelled(request_id: u64) -> Self {
                Self { request_id, code: ProtosocketControlCode::Cancel as u32, $body: None $(, $extra: $value)* }
            }
            fn ended(request_id: u64) -> Self {
                Self { request_id, code: ProtosocketControlCode::End as u32, $body: None $(, $extra: $value)* }
            }
        }
    };
}

/// The interop protocol in MessagePack.
pub mod interop {
    use std::collections::{BTreeMap, HashMap};

    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Request {
        pub request_id: u64,
        pub code: u32,
        pub body: Option<RequestBody>,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub enum RequestBody {
        Echo(EchoRequest),
        Stream(StreamRequest),
        Sleep(SleepRequest),
        Fail(FailRequest),
        Reject(Empty),
        Stats(Empty),
        Fidelity(Fidelity),
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Response {
        pub request_id: u64,
        pub code: u32,
        pub body: Option<ResponseBody>,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub enum ResponseBody {
        Echo(EchoResponse),
        Stream(StreamItem),
        Sleep(SleepResponse),
        Fail(Empty),
        Reject(Empty),
        Stats(StatsResponse),
        Error(Status),
        Fidelity(Fidelity),
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Empty {}

    /// `payload` is a plain `Vec<u8>`: rmp_serde writes it as an array of integers and
    /// reads it from that or from bin (what the TypeScript side writes).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct EchoRequest {
        pub message: String,
        pub payload: Vec<u8>,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct EchoResponse {
        pub message: String,
        pub payload: Vec<u8>,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct StreamRequest {
        pub count: u64,
        pub payload_size: u32,
        pub item_delay_ms: u32,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct StreamItem {
        pub sequence: u64,
        pub payload: Vec<u8>,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct SleepRequest {
        pub ms: u32,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct SleepResponse {
        pub slept_ms: u32,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct FailRequest {
        pub code: u32,
        pub message: String,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct StatsResponse {
        pub cancelled_handlers: u64,
        pub completed: u64,
        pub rejected: u64,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Status {
        pub code: u32,
        pub message: String,
    }

    /// Values whose MessagePack form is easy to get wrong, echoed as they come: an f64
    /// (-0.0 is `cb 80 00 …`), maps with integer keys (rmp_serde writes them as integers,
    /// and reads nothing else into a `u32` key), and string keys such as `__proto__`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct Fidelity {
        pub float: f64,
        pub by_id: HashMap<u32, String>,
        pub sorted: BTreeMap<i64, String>,
        pub names: BTreeMap<String, String>,
    }
}

/// The messages of protosocket's example-messagepack (example-messagepack/src/messages.rs).
pub mod example {
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Request {
        pub request_id: u64,
        pub code: u32,
        pub body: Option<EchoRequest>,
        pub response_behavior: ResponseBehavior,
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    #[repr(i32)]
    pub enum ResponseBehavior {
        Unary = 0,
        Stream = 1,
    }

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct EchoRequest {
        pub message: String,
        pub nanotime: u64,
    }

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Response {
        pub request_id: u64,
        pub code: u32,
        pub kind: Option<EchoResponseKind>,
    }

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub enum EchoResponseKind {
        Echo(EchoResponse),
        Stream(EchoStream),
    }

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct EchoResponse {
        pub message: String,
        pub nanotime: u64,
    }

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct EchoStream {
        pub message: String,
        pub nanotime: u64,
        pub sequence: u64,
    }
}

envelope_message!(Request, body);
envelope_message!(Response, body);
use interop::{Request, Response};

impl Message for example::Request {
    fn message_id(&self) -> u64 {
        self.request_id
    }
    fn control_code(&self) -> ProtosocketControlCode {
        ProtosocketControlCode::from_u8(self.code as u8)
    }
    fn set_message_id(&mut self, message_id: u64) {
        self.request_id = message_id;
    }
    fn cancelled(request_id: u64) -> Self {
        Self {
            request_id,
            code: ProtosocketControlCode::Cancel as u32,
            body: None,
            response_behavior: example::ResponseBehavior::Unary,
        }
    }
    fn ended(request_id: u64) -> Self {
        Self {
            request_id,
            code: ProtosocketControlCode::End as u32,
            body: None,
            response_behavior: example::ResponseBehavior::Unary,
        }
    }
}

impl Message for example::Response {
    fn message_id(&self) -> u64 {
        self.request_id
    }
    fn control_code(&self) -> ProtosocketControlCode {
        ProtosocketControlCode::from_u8(self.code as u8)
    }
    fn set_message_id(&mut self, message_id: u64) {
        self.request_id = message_id;
    }
    fn cancelled(request_id: u64) -> Self {
        Self {
            request_id,
            code: ProtosocketControlCode::Cancel as u32,
            kind: None,
        }
    }
    fn ended(request_id: u64) -> Self {
        Self {
            request_id,
            code: ProtosocketControlCode::End as u32,
            kind: None,
        }
    }
}

/// Server codec of the interop protocol.
pub type ServerCodec = (
    PooledEncoder<MessagePackSerializer<Response>>,
    MessagePackDecoder<Request>,
);
/// Client codec of the interop protocol.
pub type ClientCodec = (MessagePackSerializer<Request>, MessagePackDecoder<Response>);
/// Server codec of the example protocol.
pub type ExampleServerCodec = (
    PooledEncoder<MessagePackSerializer<example::Response>>,
    MessagePackDecoder<example::Request>,
);
/// Client codec of the example protocol.
pub type ExampleClientCodec = (
    MessagePackSerializer<example::Request>,
    MessagePackDecoder<example::Response>,
);

fn normal(body: interop::ResponseBody) -> Response {
    Response {
        request_id: 0,
        code: 0,
        body: Some(body),
    }
}

fn ready(
    body: impl FnOnce() -> interop::ResponseBody + Send + 'static,
) -> BoxFuture<'static, Response> {
    let guard = Guard::new();
    async move {
        let response = normal(body());
        guard.finish();
        response
    }
    .boxed()
}

/// One interop connection.
#[derive(Default)]
pub struct InteropConnection;

impl ConnectionService for InteropConnection {
    type Codec = ServerCodec;
    type Request = Request;
    type Response = Response;
    type UnaryFutureType = BoxFuture<'static, Response>;
    type StreamType = BoxStream<'static, Response>;

    fn new_rpc(&mut self, request: Request) -> RpcKind<Self::UnaryFutureType, Self::StreamType> {
        use interop::{RequestBody as Q, ResponseBody as A};
        match request.body {
            Some(Q::Echo(echo)) => RpcKind::Unary(ready(move || {
                A::Echo(interop::EchoResponse {
                    message: echo.message,
                    payload: echo.payload,
                })
            })),
            Some(Q::Stream(stream)) => {
                let delay = (stream.item_delay_ms > 0)
                    .then(|| Duration::from_millis(stream.item_delay_ms as u64));
                let state = (
                    Some(Guard::new()),
                    0u64,
                    stream.count,
                    stream.payload_size as usize,
                    delay,
                );
                RpcKind::Streaming(
                    futures::stream::unfold(
                        state,
                        |(mut guard, next, count, size, delay)| async move {
                            if next >= count {
                                if let Some(g) = guard.take() {
                                    g.finish();
                                }
                                return None;
                            }
                            if next > 0 {
                                if let Some(delay) = delay {
                                    tokio::time::sleep(delay).await;
                                }
                            }
                            let item = normal(A::Stream(interop::StreamItem {
                                sequence: next,
                                payload: vec![0u8; size],
                            }));
                            Some((item, (guard, next + 1, count, size, delay)))
                        },
                    )
                    .boxed(),
                )
            }
            Some(Q::Sleep(sleep)) => {
                let guard = Guard::new();
                RpcKind::Unary(
                    async move {
                        tokio::time::sleep(Duration::from_millis(sleep.ms as u64)).await;
                        guard.finish();
                        normal(A::Sleep(interop::SleepResponse { slept_ms: sleep.ms }))
                    }
                    .boxed(),
                )
            }
            Some(Q::Fail(fail)) => RpcKind::Unary(ready(move || {
                A::Error(interop::Status {
                    code: fail.code,
                    message: fail.message,
                })
            })),
            Some(Q::Stats(_)) => RpcKind::Unary(ready(|| {
                A::Stats(interop::StatsResponse {
                    cancelled_handlers: CANCELLED_HANDLERS.load(Ordering::SeqCst),
                    completed: COMPLETED.load(Ordering::SeqCst),
                    rejected: REJECTED.load(Ordering::SeqCst),
                })
            })),
            Some(Q::Fidelity(fidelity)) => RpcKind::Unary(ready(move || A::Fidelity(fidelity))),
            Some(Q::Reject(_)) | None => {
                REJECTED.fetch_add(1, Ordering::SeqCst);
                RpcKind::Cancelled
            }
        }
    }
}

/// One example-messagepack connection: answers as its server.rs does.
#[derive(Default)]
pub struct ExampleConnection;

impl ConnectionService for ExampleConnection {
    type Codec = ExampleServerCodec;
    type Request = example::Request;
    type Response = example::Response;
    type UnaryFutureType = futures::future::Ready<example::Response>;
    type StreamType = BoxStream<'static, example::Response>;

    fn new_rpc(
        &mut self,
        request: example::Request,
    ) -> RpcKind<Self::UnaryFutureType, Self::StreamType> {
        let request_id = request.request_id;
        match request.body {
            Some(echo) => match request.response_behavior {
                example::ResponseBehavior::Unary => {
                    RpcKind::Unary(futures::future::ready(example::Response {
                        request_id,
                        code: ProtosocketControlCode::Normal as u32,
                        kind: Some(example::EchoResponseKind::Echo(example::EchoResponse {
                            message: echo.message,
                            nanotime: echo.nanotime,
                        })),
                    }))
                }
                example::ResponseBehavior::Stream => {
                    let nanotime = echo.nanotime;
                    RpcKind::Streaming(
                        futures::stream::iter(
                            echo.message.into_bytes().into_iter().enumerate().map(
                                move |(sequence, c)| example::Response {
                                    request_id,
                                    code: ProtosocketControlCode::Normal as u32,
                                    kind: Some(example::EchoResponseKind::Stream(
                                        example::EchoStream {
                                            message: (c as char).to_string(),
                                            nanotime,
                                            sequence: sequence as u64,
                                        },
                                    )),
                                },
                            ),
                        )
                        .boxed(),
                    )
                }
            },
            None => RpcKind::Cancelled,
        }
    }
}

/// Makes a connection service of type `C` for every accepted stream of `L`.
pub struct Service<C, L> {
    _types: std::marker::PhantomData<fn() -> (C, L)>,
}

impl<C, L> Default for Service<C, L> {
    fn default() -> Self {
        Self {
            _types: std::marker::PhantomData,
        }
    }
}

impl<C, L> SocketService for Service<C, L>
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

/// Binds `addr` and returns the bound address and the future that serves the protocol
/// (`example` or the interop one).
pub fn bind(
    addr: std::net::SocketAddr,
    example: bool,
    max_buffer_length: usize,
) -> std::io::Result<(
    std::net::SocketAddr,
    std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>>,
)> {
    let (tcp, local) = crate::server::listen(addr)?;
    let serve: std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>> =
        if example {
            Box::pin(
                SocketRpcServer::new(
                    tcp,
                    Service::<ExampleConnection, protosocket::TcpSocketListener>::default(),
                    max_buffer_length,
                    1 << 20,
                    256,
                )
                .map_err(std::io::Error::other)?,
            )
        } else {
            Box::pin(
                SocketRpcServer::new(
                    tcp,
                    Service::<InteropConnection, protosocket::TcpSocketListener>::default(),
                    max_buffer_length,
                    1 << 20,
                    256,
                )
                .map_err(std::io::Error::other)?,
            )
        };
    Ok((local, serve))
}
