//! The envelopes in the canonical proto3 JSON mapping, written by hand (so the output
//! is exactly what protobuf's JSON spec prescribes, including `google.protobuf.Any`):
//! lowerCamelCase field names, fields in field-number order, fields with default values
//! omitted, 64-bit integers as decimal strings, 32-bit integers and bools as JSON
//! numbers/booleans, bytes as standard base64 with padding, a set oneof case always
//! written (`{}` when its message is empty), and an `Any` as `{"@type": url, ...fields
//! of the embedded message}`.

use base64::Engine as _;
use prost::Message as _;
use serde_json::{Map, Value};

use crate::interop::{
    request, response, EchoRequest, EchoResponse, FailRequest, Request, Response, SleepRequest,
    SleepResponse, StatsResponse, StreamItem, StreamRequest,
};
use crate::status::Status;

struct Obj(Map<String, Value>);

impl Obj {
    fn new() -> Self {
        Obj(Map::new())
    }
    fn u64(mut self, name: &str, value: u64) -> Self {
        if value != 0 {
            self.0.insert(name.into(), Value::String(value.to_string()));
        }
        self
    }
    fn u32(mut self, name: &str, value: u32) -> Self {
        if value != 0 {
            self.0.insert(name.into(), Value::from(value));
        }
        self
    }
    fn i32(mut self, name: &str, value: i32) -> Self {
        if value != 0 {
            self.0.insert(name.into(), Value::from(value));
        }
        self
    }
    fn bool(mut self, name: &str, value: bool) -> Self {
        if value {
            self.0.insert(name.into(), Value::Bool(true));
        }
        self
    }
    fn string(mut self, name: &str, value: &str) -> Self {
        if !value.is_empty() {
            self.0.insert(name.into(), Value::String(value.to_string()));
        }
        self
    }
    fn bytes(mut self, name: &str, value: &[u8]) -> Self {
        if !value.is_empty() {
            let text = base64::engine::general_purpose::STANDARD.encode(value);
            self.0.insert(name.into(), Value::String(text));
        }
        self
    }
    fn value(mut self, name: &str, value: Value) -> Self {
        self.0.insert(name.into(), value);
        self
    }
    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

fn echo_fields(message: &str, payload: &[u8]) -> Obj {
    Obj::new()
        .string("message", message)
        .bytes("payload", payload)
}

pub fn echo_request(m: &EchoRequest) -> Value {
    echo_fields(&m.message, &m.payload).done()
}

pub fn echo_response(m: &EchoResponse) -> Value {
    echo_fields(&m.message, &m.payload).done()
}

pub fn stream_request(m: &StreamRequest) -> Value {
    Obj::new()
        .u64("count", m.count)
        .u32("payloadSize", m.payload_size)
        .u32("itemDelayMs", m.item_delay_ms)
        .done()
}

pub fn sleep_request(m: &SleepRequest) -> Value {
    Obj::new().u32("ms", m.ms).done()
}

pub fn fail_request(m: &FailRequest) -> Value {
    Obj::new()
        .i32("code", m.code)
        .string("message", &m.message)
        .bool("withDetails", m.with_details)
        .done()
}

pub fn stream_item(m: &StreamItem) -> Value {
    Obj::new()
        .u64("sequence", m.sequence)
        .bytes("payload", &m.payload)
        .done()
}

pub fn sleep_response(m: &SleepResponse) -> Value {
    Obj::new().u32("sleptMs", m.slept_ms).done()
}

pub fn stats_response(m: &StatsResponse) -> Value {
    Obj::new()
        .u64("cancelledHandlers", m.cancelled_handlers)
        .u64("completed", m.completed)
        .u64("rejected", m.rejected)
        .done()
}

/// `google.protobuf.Any`: only the type this suite puts in details is expanded; any other
/// type is an error (the canonical mapping needs the embedded type's schema).
pub fn any(m: &prost_types::Any) -> Result<Value, String> {
    let mut object = Map::new();
    object.insert("@type".into(), Value::String(m.type_url.clone()));
    match m.type_url.as_str() {
        crate::DETAIL_TYPE_URL => {
            let inner = EchoResponse::decode(m.value.as_slice()).map_err(|e| e.to_string())?;
            if let Value::Object(fields) = echo_response(&inner) {
                object.extend(fields);
            }
        }
        other => return Err(format!("no JSON mapping for Any of type {other:?}")),
    }
    Ok(Value::Object(object))
}

pub fn status(m: &Status) -> Result<Value, String> {
    let mut obj = Obj::new().i32("code", m.code).string("message", &m.message);
    if !m.details.is_empty() {
        let details = m.details.iter().map(any).collect::<Result<Vec<_>, _>>()?;
        obj = obj.value("details", Value::Array(details));
    }
    Ok(obj.done())
}

fn envelope(request_id: u64, code: u32) -> Obj {
    Obj::new().u64("requestId", request_id).u32("code", code)
}

pub fn request(m: &Request) -> Value {
    let obj = envelope(m.request_id, m.code);
    match &m.body {
        None => obj,
        Some(request::Body::Echo(b)) => obj.value("echo", echo_request(b)),
        Some(request::Body::Stream(b)) => obj.value("stream", stream_request(b)),
        Some(request::Body::Sleep(b)) => obj.value("sleep", sleep_request(b)),
        Some(request::Body::Fail(b)) => obj.value("fail", fail_request(b)),
        Some(request::Body::Reject(_)) => obj.value("reject", Value::Object(Map::new())),
        Some(request::Body::Stats(_)) => obj.value("stats", Value::Object(Map::new())),
    }
    .done()
}

pub fn response(m: &Response) -> Result<Value, String> {
    let obj = envelope(m.request_id, m.code);
    Ok(match &m.body {
        None => obj,
        Some(response::Body::Echo(b)) => obj.value("echo", echo_response(b)),
        Some(response::Body::Stream(b)) => obj.value("stream", stream_item(b)),
        Some(response::Body::Sleep(b)) => obj.value("sleep", sleep_response(b)),
        Some(response::Body::Fail(_)) => obj.value("fail", Value::Object(Map::new())),
        Some(response::Body::Reject(_)) => obj.value("reject", Value::Object(Map::new())),
        Some(response::Body::Stats(b)) => obj.value("stats", stats_response(b)),
        Some(response::Body::Error(b)) => obj.value("error", status(b)?),
    }
    .done())
}
