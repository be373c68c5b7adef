//! The interop server: a `protosocket_rpc::server::SocketRpcServer` whose
//! `ConnectionService` answers each `Request` body case as described in
//! `proto/interop/v1/interop.proto` and `interop/rust/README.md`.
//!
//! How cancellation is observed: protosocket-rpc 2.x has no cancellation callback or
//! token. When a Cancel arrives for a running rpc, the connection marks it aborted and,
//! on its next poll, *drops* the future/stream that `new_rpc` returned (before polling
//! it again). So every rpc here carries an [`RpcGuard`] that is moved into the
//! future/stream when it is created; its `Drop` counts `completed` if the rpc produced
//! its terminal result and `cancelled_handlers` otherwise (client Cancel, or the
//! connection going away while the rpc was still running).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use protosocket::{SocketListener, TcpSocketListener, TlsSocketListener};
use protosocket_rpc::server::{ConnectionService, RpcKind, SocketRpcServer, SocketService};

use crate::interop::{
    request, response, EchoResponse, FailRequest, Request, Response, SleepResponse, StatsResponse,
    StreamItem, StreamRequest,
};
use crate::status::Status;
use crate::{ServerCodec, DETAIL_TYPE_URL};

/// Handlers that observed a client Cancel (or lost their connection) while running.
pub static CANCELLED_HANDLERS: AtomicU64 = AtomicU64::new(0);
/// Unary responses produced normally and streams that ran to End.
pub static COMPLETED: AtomicU64 = AtomicU64::new(0);
/// Requests rejected with Cancel (`reject`, and requests without a body).
pub static REJECTED: AtomicU64 = AtomicU64::new(0);

/// Default maximum inbound frame (prefix included) of the interop server: 8 MiB.
pub const DEFAULT_MAX_BUFFER_LENGTH: usize = 8 * 1024 * 1024;
/// Receive buffer growth step (the reference examples use 1 MiB).
pub const BUFFER_ALLOCATION_INCREMENT: usize = 1024 * 1024;
/// Send-buffer depth in messages.
pub const MAX_QUEUED_OUTBOUND_MESSAGES: usize = 256;

/// A snapshot of the process-wide counters.
pub fn stats() -> StatsResponse {
    StatsResponse {
        cancelled_handlers: CANCELLED_HANDLERS.load(Ordering::SeqCst),
        completed: COMPLETED.load(Ordering::SeqCst),
        rejected: REJECTED.load(Ordering::SeqCst),
    }
}

/// Moved into every rpc future/stream; counts how the rpc ended when it is dropped.
#[derive(Debug)]
pub struct RpcGuard {
    finished: bool,
}

impl RpcGuard {
    fn new() -> Self {
        Self { finished: false }
    }

    /// The rpc produced its terminal result (unary response, or end of stream).
    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for RpcGuard {
    fn drop(&mut self) {
        if self.finished {
            COMPLETED.fetch_add(1, Ordering::SeqCst);
        } else {
            CANCELLED_HANDLERS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn normal(body: response::Body) -> Response {
    // The connection stamps request_id on every response it sends.
    Response {
        request_id: 0,
        code: 0,
        body: Some(body),
    }
}

/// The error case the server sends for `fail`.
pub fn fail_status(fail: FailRequest) -> Status {
    let details = if fail.with_details {
        vec![prost_types::Any {
            type_url: DETAIL_TYPE_URL.to_string(),
            value: prost::Message::encode_to_vec(&EchoResponse {
                message: "detail".to_string(),
                payload: Vec::new(),
            }),
        }]
    } else {
        Vec::new()
    };
    Status {
        code: fail.code,
        message: fail.message,
        details,
    }
}

/// A unary rpc whose response is ready at once.
fn ready_unary(
    body: impl FnOnce() -> response::Body + Send + 'static,
) -> BoxFuture<'static, Response> {
    let guard = RpcGuard::new();
    async move {
        let response = normal(body());
        guard.finish();
        response
    }
    .boxed()
}

fn sleep_unary(ms: u32) -> BoxFuture<'static, Response> {
    let guard = RpcGuard::new();
    async move {
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
        guard.finish();
        normal(response::Body::Sleep(SleepResponse { slept_ms: ms }))
    }
    .boxed()
}

struct StreamState {
    guard: Option<RpcGuard>,
    next: u64,
    count: u64,
    payload_size: usize,
    delay: Option<Duration>,
}

fn item_stream(request: StreamRequest) -> BoxStream<'static, Response> {
    let state = StreamState {
        guard: Some(RpcGuard::new()),
        next: 0,
        count: request.count,
        payload_size: request.payload_size as usize,
        delay: (request.item_delay_ms > 0)
            .then(|| Duration::from_millis(request.item_delay_ms as u64)),
    };
    futures::stream::unfold(state, |mut state| async move {
        if state.next >= state.count {
            // Ran to the end: the library sends End after this `None`.
            if let Some(guard) = state.guard.take() {
                guard.finish();
            }
            return None;
        }
        if state.next > 0 {
            if let Some(delay) = state.delay {
                tokio::time::sleep(delay).await;
            }
        }
        let item = normal(response::Body::Stream(StreamItem {
            sequence: state.next,
            payload: vec![0u8; state.payload_size],
        }));
        state.next += 1;
        Some((item, state))
    })
    .boxed()
}

/// One per connection.
#[derive(Debug, Default)]
pub struct InteropConnection;

impl ConnectionService for InteropConnection {
    type Codec = ServerCodec;
    type Request = Request;
    type Response = Response;
    type UnaryFutureType = BoxFuture<'static, Response>;
    type StreamType = BoxStream<'static, Response>;

    fn new_rpc(&mut self, request: Request) -> RpcKind<Self::UnaryFutureType, Self::StreamType> {
        match request.body {
            Some(request::Body::Echo(echo)) => RpcKind::Unary(ready_unary(move || {
                response::Body::Echo(EchoResponse {
                    message: echo.message,
                    payload: echo.payload,
                })
            })),
            Some(request::Body::Stream(stream)) => RpcKind::Streaming(item_stream(stream)),
            Some(request::Body::Sleep(sleep)) => RpcKind::Unary(sleep_unary(sleep.ms)),
            Some(request::Body::Fail(fail)) => RpcKind::Unary(ready_unary(move || {
                response::Body::Error(fail_status(fail))
            })),
            Some(request::Body::Reject(_)) | None => {
                REJECTED.fetch_add(1, Ordering::SeqCst);
                RpcKind::Cancelled
            }
            // The snapshot is taken when the rpc is first polled, before this rpc's own
            // completion is counted.
            Some(request::Body::Stats(_)) => {
                RpcKind::Unary(ready_unary(|| response::Body::Stats(stats())))
            }
        }
    }
}

/// Creates an [`InteropConnection`] for each accepted stream of listener `L`.
pub struct InteropService<L> {
    _listener: std::marker::PhantomData<fn() -> L>,
}

impl<L> Default for InteropService<L> {
    fn default() -> Self {
        Self {
            _listener: std::marker::PhantomData,
        }
    }
}

impl<L: SocketListener + 'static> SocketService for InteropService<L> {
    type ConnectionService = InteropConnection;
    type SocketListener = L;

    fn codec(&mut self) -> ServerCodec {
        Default::default()
    }

    fn new_stream_service(&mut self, _stream: &L::Stream) -> InteropConnection {
        InteropConnection
    }
}

/// Bind a `TcpSocketListener` (the library's listener, with its socket options).
///
/// `TcpSocketListener` does not expose its local address, so for port 0 a placeholder
/// socket with SO_REUSEPORT is bound first to pick a free port, the library listener is
/// bound to that same port (it sets SO_REUSEPORT too), and the placeholder, which never
/// listens and so never receives connections, is closed.
pub fn listen(addr: SocketAddr) -> std::io::Result<(TcpSocketListener, SocketAddr)> {
    if addr.port() != 0 {
        return Ok((TcpSocketListener::listen(addr, 1024, None)?, addr));
    }
    let placeholder = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    placeholder.set_reuse_port(true)?;
    placeholder.set_reuse_address(true)?;
    placeholder.bind(&addr.into())?;
    let bound = placeholder
        .local_addr()?
        .as_socket()
        .ok_or_else(|| std::io::Error::other("bound address is not an inet address"))?;
    let listener = TcpSocketListener::listen(bound, 1024, None)?;
    drop(placeholder);
    Ok((listener, bound))
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub addr: SocketAddr,
    /// PEM certificate chain and PEM private key; `None` serves plain TCP.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    pub max_buffer_length: usize,
}

/// A bound server: its address and the future that serves it (resolves only if the
/// listener stops, e.g. after an accept error).
pub struct BoundServer {
    pub local_addr: SocketAddr,
    pub serve: Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>,
}

fn build<L>(
    listener: L,
    max_buffer_length: usize,
) -> std::io::Result<Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>>
where
    L: SocketListener + Send + 'static,
    L::Stream: Send,
{
    let server = SocketRpcServer::new(
        listener,
        InteropService::<L>::default(),
        max_buffer_length,
        BUFFER_ALLOCATION_INCREMENT,
        MAX_QUEUED_OUTBOUND_MESSAGES,
    )
    .map_err(std::io::Error::other)?;
    Ok(Box::pin(server))
}

/// Bind the listener (synchronously) and return the serving future. Must be called
/// inside a tokio runtime.
pub fn bind(options: &ServerOptions) -> std::io::Result<BoundServer> {
    let (tcp, local_addr) = listen(options.addr)?;
    let serve = match &options.tls {
        None => build(tcp, options.max_buffer_length)?,
        Some((cert, key)) => {
            let config = crate::tls::server_config(Path::new(cert), Path::new(key))?;
            build(
                TlsSocketListener::wrap(tcp, config),
                options.max_buffer_length,
            )?
        }
    };
    Ok(BoundServer { local_addr, serve })
}
