//! What the Rust interop server puts on the wire, frame by frame, seen through a raw
//! TCP socket (no protosocket client in between, so End and Cancel are visible).

use std::time::Duration;

use prost::Message as _;
use protosocket_interop::interop::{
    request, response, EchoRequest, RejectRequest, Request, Response, SleepRequest, StatsRequest,
    StreamRequest,
};
use protosocket_interop::server::{bind, ServerOptions, DEFAULT_MAX_BUFFER_LENGTH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The server's counters are process-wide: the tests of this file take turns so that
/// one test's counter assertions see only its own rpcs.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Raw {
    stream: TcpStream,
    buffer: Vec<u8>,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Raw {
    async fn connect() -> Raw {
        let serial = SERIAL.lock().await;
        let server = bind(&ServerOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            max_buffer_length: DEFAULT_MAX_BUFFER_LENGTH,
        })
        .unwrap();
        let addr = server.local_addr;
        tokio::spawn(server.serve);
        Raw {
            stream: TcpStream::connect(addr).await.unwrap(),
            buffer: Vec::new(),
            _serial: serial,
        }
    }

    async fn send(&mut self, request: Request) {
        let frame = request.encode_length_delimited_to_vec();
        self.stream.write_all(&frame).await.unwrap();
    }

    async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next frame, or None if nothing arrives within `wait`.
    async fn next_within(&mut self, wait: Duration) -> Option<Response> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Ok(len) = prost::decode_length_delimiter(self.buffer.as_slice()) {
                let prefix = prost::length_delimiter_len(len);
                if self.buffer.len() >= prefix + len {
                    let response = Response::decode(&self.buffer[prefix..prefix + len]).unwrap();
                    self.buffer.drain(..prefix + len);
                    return Some(response);
                }
            }
            let mut chunk = [0u8; 65536];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return None,
                Ok(Ok(0)) => panic!("server closed the connection"),
                Ok(Ok(n)) => self.buffer.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => panic!("read: {e}"),
            }
        }
    }

    async fn next(&mut self) -> Response {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("no frame within 10 s")
    }

    async fn nothing_more(&mut self) {
        let extra = self.next_within(Duration::from_millis(150)).await;
        assert!(extra.is_none(), "unexpected frame {extra:?}");
    }
}

fn normal(id: u64, body: request::Body) -> Request {
    Request {
        request_id: id,
        code: 0,
        body: Some(body),
    }
}

fn control(id: u64, code: u32) -> Response {
    Response {
        request_id: id,
        code,
        body: None,
    }
}

#[tokio::test]
async fn unary_is_one_frame_with_the_request_id() {
    let mut raw = Raw::connect().await;
    let id = u64::MAX;
    raw.send(normal(
        id,
        request::Body::Echo(EchoRequest {
            message: "hi".into(),
            payload: vec![9],
        }),
    ))
    .await;
    let response = raw.next().await;
    assert_eq!(response.request_id, id);
    assert_eq!(response.code, 0);
    assert!(
        matches!(response.body, Some(response::Body::Echo(ref e)) if e.message == "hi" && e.payload == [9])
    );
    raw.nothing_more().await;
}

#[tokio::test]
async fn stream_is_items_then_end() {
    let mut raw = Raw::connect().await;
    raw.send(normal(
        3,
        request::Body::Stream(StreamRequest {
            count: 3,
            payload_size: 2,
            item_delay_ms: 0,
        }),
    ))
    .await;
    for sequence in 0..3u64 {
        let item = raw.next().await;
        assert_eq!((item.request_id, item.code), (3, 0));
        match item.body {
            Some(response::Body::Stream(s)) => {
                assert_eq!(s.sequence, sequence);
                assert_eq!(s.payload, vec![0, 0]);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(raw.next().await, control(3, 2));
    raw.nothing_more().await;
}

#[tokio::test]
async fn empty_stream_is_just_end() {
    let mut raw = Raw::connect().await;
    raw.send(normal(4, request::Body::Stream(StreamRequest::default())))
        .await;
    assert_eq!(raw.next().await, control(4, 2));
    raw.nothing_more().await;
}

#[tokio::test]
async fn reject_and_missing_body_are_cancel_frames() {
    let mut raw = Raw::connect().await;
    raw.send(normal(5, request::Body::Reject(RejectRequest {})))
        .await;
    assert_eq!(raw.next().await, control(5, 1));
    // `02 08 07`: request id 7 without a body.
    raw.send_bytes(&[0x02, 0x08, 0x07]).await;
    assert_eq!(raw.next().await, control(7, 1));
    raw.nothing_more().await;
}

#[tokio::test]
async fn cancel_of_a_running_rpc_is_echoed_and_counted() {
    let mut raw = Raw::connect().await;
    raw.send(normal(10, request::Body::Stats(StatsRequest {})))
        .await;
    let before = match raw.next().await.body {
        Some(response::Body::Stats(s)) => s,
        other => panic!("{other:?}"),
    };
    raw.send(normal(
        11,
        request::Body::Sleep(SleepRequest { ms: 10_000 }),
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // `04 08 0b 10 01`: Cancel id 11.
    raw.send_bytes(&[0x04, 0x08, 0x0b, 0x10, 0x01]).await;
    assert_eq!(raw.next().await, control(11, 1));
    raw.nothing_more().await;
    // A Cancel for an unknown or finished id is ignored.
    raw.send_bytes(&[0x04, 0x08, 0x0b, 0x10, 0x01]).await;
    raw.nothing_more().await;
    raw.send(normal(12, request::Body::Stats(StatsRequest {})))
        .await;
    let after = match raw.next().await.body {
        Some(response::Body::Stats(s)) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(after.cancelled_handlers, before.cancelled_handlers + 1);
    // The first stats call counted itself after its snapshot.
    assert_eq!(after.completed, before.completed + 1);
}

#[tokio::test]
async fn fail_is_a_normal_frame_with_the_error_case() {
    let mut raw = Raw::connect().await;
    raw.send(normal(
        20,
        request::Body::Fail(protosocket_interop::interop::FailRequest {
            code: 7,
            message: "denied".into(),
            with_details: false,
        }),
    ))
    .await;
    let response = raw.next().await;
    assert_eq!((response.request_id, response.code), (20, 0));
    match response.body {
        Some(response::Body::Error(status)) => {
            assert_eq!(
                (status.code, status.message.as_str(), status.details.len()),
                (7, "denied", 0)
            );
        }
        other => panic!("{other:?}"),
    }
}
