//! Byte vectors: exact frames (varint length prefix + protobuf body) that the real
//! `protosocket-prost` encoder produces for a fixed set of envelopes. Written to
//! `interop/vectors/frames.json` by `cargo run --bin gen-vectors`; `cargo test` checks
//! the committed file against these cases (encode and decode).

use prost::Message as _;
use protosocket::{Decoder, Serialize};
use protosocket_prost::{ProstDecoder, ProstSerializer};
use serde_json::{Map, Value};

use crate::envelope::control_word;
use crate::interop::{
    request, response, EchoRequest, EchoResponse, FailRequest, FailResponse, RejectRequest,
    RejectResponse, Request, Response, SleepRequest, SleepResponse, StatsRequest, StatsResponse,
    StreamItem, StreamRequest,
};
use crate::server::fail_status;
use crate::status::Status;

/// Path of the vectors file, relative to this crate's manifest directory.
pub const FRAMES_PATH: &str = "../vectors/frames.json";

/// One envelope of either direction.
#[derive(Debug, Clone, PartialEq)]
pub enum Envelope {
    Request(Request),
    Response(Response),
}

impl Envelope {
    pub fn direction(&self) -> &'static str {
        match self {
            Envelope::Request(_) => "request",
            Envelope::Response(_) => "response",
        }
    }

    pub fn code(&self) -> u32 {
        match self {
            Envelope::Request(m) => m.code,
            Envelope::Response(m) => m.code,
        }
    }

    /// The frame exactly as protosocket-prost's serializer writes it.
    pub fn frame(&self) -> Vec<u8> {
        let mut buffer = Vec::new();
        match self {
            Envelope::Request(m) => {
                ProstSerializer::<Request>::default().serialize_into_buffer(m.clone(), &mut buffer)
            }
            Envelope::Response(m) => {
                ProstSerializer::<Response>::default().serialize_into_buffer(m.clone(), &mut buffer)
            }
        }
        buffer
    }

    /// Decodes one frame of `direction` with protosocket-prost's decoder; the frame must
    /// be consumed exactly.
    pub fn decode(direction: &str, frame: &[u8]) -> Result<Envelope, String> {
        let (consumed, envelope) = match direction {
            "request" => {
                let (n, m) = ProstDecoder::<Request>::default()
                    .decode(frame)
                    .map_err(|e| format!("decode: {e:?}"))?;
                (n, Envelope::Request(m))
            }
            "response" => {
                let (n, m) = ProstDecoder::<Response>::default()
                    .decode(frame)
                    .map_err(|e| format!("decode: {e:?}"))?;
                (n, Envelope::Response(m))
            }
            other => return Err(format!("unknown direction {other:?}")),
        };
        if consumed != frame.len() {
            return Err(format!(
                "decoder consumed {consumed} of {} bytes",
                frame.len()
            ));
        }
        Ok(envelope)
    }

    pub fn json(&self) -> Result<Value, String> {
        match self {
            Envelope::Request(m) => Ok(crate::json::request(m)),
            Envelope::Response(m) => crate::json::response(m),
        }
    }
}

/// A named vector.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub envelope: Envelope,
}

fn req(name: &'static str, request_id: u64, code: u32, body: Option<request::Body>) -> Case {
    Case {
        name,
        envelope: Envelope::Request(Request {
            request_id,
            code,
            body,
        }),
    }
}

fn resp(name: &'static str, request_id: u64, code: u32, body: Option<response::Body>) -> Case {
    Case {
        name,
        envelope: Envelope::Response(Response {
            request_id,
            code,
            body,
        }),
    }
}

fn echo_req(message: &str, payload: &[u8]) -> Option<request::Body> {
    Some(request::Body::Echo(EchoRequest {
        message: message.into(),
        payload: payload.to_vec(),
    }))
}

fn echo_resp(message: &str, payload: &[u8]) -> Option<response::Body> {
    Some(response::Body::Echo(EchoResponse {
        message: message.into(),
        payload: payload.to_vec(),
    }))
}

/// The fixed set of vectors, in file order.
pub fn cases() -> Vec<Case> {
    const MAX: u64 = u64::MAX;
    let fail = FailRequest {
        code: 5,
        message: "not here".into(),
        with_details: true,
    };
    let prefix_128: Vec<u8> = (0u8..122).collect();
    vec![
        // Requests, one per body case.
        req("request_echo", 1, 0, echo_req("hello", &[1, 2, 3, 4, 5])),
        req(
            "request_stream",
            2,
            0,
            Some(request::Body::Stream(StreamRequest {
                count: 10,
                payload_size: 16,
                item_delay_ms: 1,
            })),
        ),
        req(
            "request_sleep",
            3,
            0,
            Some(request::Body::Sleep(SleepRequest { ms: 10_000 })),
        ),
        req(
            "request_fail",
            4,
            0,
            Some(request::Body::Fail(fail.clone())),
        ),
        req(
            "request_reject",
            5,
            0,
            Some(request::Body::Reject(RejectRequest {})),
        ),
        req(
            "request_stats",
            6,
            0,
            Some(request::Body::Stats(StatsRequest {})),
        ),
        // Edge cases of requests.
        req("request_echo_empty_body", 7, 0, echo_req("", &[])),
        req("request_no_body", 7, 0, None),
        req("request_id_0", 0, 0, echo_req("1", &[])),
        req("request_id_300", 300, 0, echo_req("1", &[])),
        req("request_id_max", MAX, 0, echo_req("1", &[])),
        req("request_echo_utf8", 8, 0, echo_req("héllo ✓ 🚀", &[0, 255])),
        req(
            "request_fail_negative_code",
            9,
            0,
            Some(request::Body::Fail(FailRequest {
                code: -1,
                message: String::new(),
                with_details: false,
            })),
        ),
        req("request_cancel", 5, 1, None),
        req("request_cancel_id_0", 0, 1, None),
        req("request_all_default", 0, 0, None),
        // Responses, one per body case.
        resp("response_echo", 1, 0, echo_resp("hello", &[1, 2, 3, 4, 5])),
        resp(
            "response_stream_item_0",
            2,
            0,
            Some(response::Body::Stream(StreamItem {
                sequence: 0,
                payload: vec![0; 4],
            })),
        ),
        resp(
            "response_stream_item_1",
            2,
            0,
            Some(response::Body::Stream(StreamItem {
                sequence: 1,
                payload: vec![0; 4],
            })),
        ),
        resp(
            "response_sleep",
            3,
            0,
            Some(response::Body::Sleep(SleepResponse { slept_ms: 10_000 })),
        ),
        resp(
            "response_fail",
            4,
            0,
            Some(response::Body::Fail(FailResponse {})),
        ),
        resp(
            "response_reject",
            5,
            0,
            Some(response::Body::Reject(RejectResponse {})),
        ),
        resp(
            "response_stats",
            6,
            0,
            Some(response::Body::Stats(StatsResponse {
                cancelled_handlers: 1,
                completed: 300,
                rejected: 2,
            })),
        ),
        resp(
            "response_error_with_details",
            4,
            0,
            Some(response::Body::Error(fail_status(fail))),
        ),
        resp(
            "response_error_no_details",
            4,
            0,
            Some(response::Body::Error(Status {
                code: 13,
                message: "boom".into(),
                details: Vec::new(),
            })),
        ),
        // Edge cases of responses.
        resp("response_echo_empty_body", 7, 0, echo_resp("", &[])),
        resp(
            "response_error_empty",
            4,
            0,
            Some(response::Body::Error(Status::default())),
        ),
        resp("response_echo_prefix_128", 1, 0, echo_resp("", &prefix_128)),
        resp("response_end", 2, 2, None),
        resp("response_cancel", 5, 1, None),
        resp("response_end_id_0", 0, 2, None),
        resp("response_cancel_id_0", 0, 1, None),
        resp("response_cancel_id_300", 300, 1, None),
        resp("response_cancel_id_max", MAX, 1, None),
        resp("response_id_0", 0, 0, echo_resp("1", &[])),
        resp("response_id_300", 300, 0, echo_resp("1", &[])),
        resp("response_id_max", MAX, 0, echo_resp("1", &[])),
        resp("response_all_default", 0, 0, None),
        // How the Rust Message impl reads codes other than 0/1/2: `code as u8`.
        resp("response_code_3_reads_as_cancel", 9, 3, None),
        resp(
            "response_code_256_reads_as_normal",
            9,
            256,
            echo_resp("x", &[]),
        ),
        resp("response_code_258_reads_as_end", 9, 258, None),
    ]
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("odd hex length {}", text.len()));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16)
                .map_err(|e| format!("bad hex {:?}: {e}", &text[i..i + 2]))
        })
        .collect()
}

/// The whole file, exactly as committed (pretty JSON, trailing newline).
pub fn render() -> Result<String, String> {
    let mut entries = Vec::new();
    for case in cases() {
        let mut entry = Map::new();
        entry.insert("name".into(), Value::String(case.name.into()));
        entry.insert(
            "direction".into(),
            Value::String(case.envelope.direction().into()),
        );
        entry.insert("message".into(), case.envelope.json()?);
        entry.insert(
            "frame_hex".into(),
            Value::String(hex(&case.envelope.frame())),
        );
        entry.insert(
            "control".into(),
            Value::String(control_word(case.envelope.code()).into()),
        );
        entries.push(Value::Object(entry));
    }
    let mut root = Map::new();
    root.insert(
        "description".into(),
        Value::String(
            "Frames of interop.v1.Request / interop.v1.Response (proto/interop/v1/interop.proto) as the Rust crates \
             protosocket-prost 2.x (prost 0.14) encode them: frame_hex = minimal varint length prefix + protobuf body. \
             message = the envelope in canonical proto3 JSON. control = how the Rust protosocket_rpc::Message impl \
             reads `code` (code as u8: 0 normal, 1 cancel, 2 end, anything else cancel). \
             Generated by `cargo run --bin gen-vectors` in interop/rust; do not edit by hand."
                .into(),
        ),
    );
    root.insert("cases".into(), Value::Array(entries));
    let mut text = serde_json::to_string_pretty(&Value::Object(root)).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
}

/// Re-checks a parsed vectors file: every frame decodes (with protosocket-prost) to a
/// message whose canonical JSON is the entry's `message`, and re-encodes to the same
/// bytes; `control` matches. Independent of [`cases`].
pub fn verify(file: &Value) -> Result<usize, String> {
    let cases = file
        .get("cases")
        .and_then(Value::as_array)
        .ok_or("no cases array")?;
    for entry in cases {
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .ok_or("entry without name")?;
        let direction = entry
            .get("direction")
            .and_then(Value::as_str)
            .ok_or(format!("{name}: no direction"))?;
        let frame_hex = entry
            .get("frame_hex")
            .and_then(Value::as_str)
            .ok_or(format!("{name}: no frame_hex"))?;
        let frame = unhex(frame_hex).map_err(|e| format!("{name}: {e}"))?;
        let decoded = Envelope::decode(direction, &frame).map_err(|e| format!("{name}: {e}"))?;
        let json = decoded.json().map_err(|e| format!("{name}: {e}"))?;
        if Some(&json) != entry.get("message") {
            return Err(format!(
                "{name}: frame decodes to {json}, file says {:?}",
                entry.get("message")
            ));
        }
        if decoded.frame() != frame {
            return Err(format!(
                "{name}: re-encoding gives {}",
                hex(&decoded.frame())
            ));
        }
        let control = entry.get("control").and_then(Value::as_str);
        if control != Some(control_word(decoded.code())) {
            return Err(format!("{name}: control {control:?}"));
        }
        // The body must be exactly the prefix-declared length.
        let body_len = match &decoded {
            Envelope::Request(m) => m.encoded_len(),
            Envelope::Response(m) => m.encoded_len(),
        };
        if prost::length_delimiter_len(body_len) + body_len != frame.len() {
            return Err(format!("{name}: prefix/body length mismatch"));
        }
    }
    Ok(cases.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(name: &str) -> String {
        let case = cases().into_iter().find(|c| c.name == name).expect(name);
        hex(&case.envelope.frame())
    }

    #[test]
    fn matches_frames_written_out_by_hand() {
        // Frames worked out by hand from the protobuf encoding of the Rust example
        // envelopes (their fields 1 and 2 and the control frames are the same bytes
        // for interop.v1).
        assert_eq!(frame_of("response_end"), "0408021002");
        assert_eq!(frame_of("response_cancel"), "0408051001");
        assert_eq!(frame_of("request_cancel"), "0408051001");
        assert_eq!(frame_of("response_cancel_id_0"), "021001");
        assert_eq!(frame_of("request_cancel_id_0"), "021001");
        assert_eq!(frame_of("response_end_id_0"), "021002");
        assert_eq!(frame_of("response_all_default"), "00");
        assert_eq!(frame_of("request_all_default"), "00");
        assert_eq!(frame_of("response_cancel_id_300"), "0508ac021001");
        assert_eq!(
            frame_of("response_cancel_id_max"),
            "0d08ffffffffffffffffff011001"
        );
        assert_eq!(frame_of("request_no_body"), "020807");
        assert_eq!(frame_of("request_echo_empty_body"), "0408071a00");
        // Unary request/response id=1 with message "1": same bytes as the example.
        assert_eq!(frame_of("request_id_300"), "0808ac021a030a0131");
        assert!(frame_of("response_echo_prefix_128").starts_with("8001"));
    }

    #[test]
    fn every_case_round_trips() {
        for case in cases() {
            let frame = case.envelope.frame();
            let decoded = Envelope::decode(case.envelope.direction(), &frame).unwrap();
            assert_eq!(decoded, case.envelope, "{}", case.name);
        }
    }

    #[test]
    fn committed_file_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FRAMES_PATH);
        let committed =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let expected = render().unwrap();
        assert!(
            committed == expected,
            "{} is stale: run `cargo run --bin gen-vectors` in interop/rust",
            path.display()
        );
        let parsed: Value = serde_json::from_str(&committed).unwrap();
        assert_eq!(verify(&parsed).unwrap(), cases().len());
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = cases().iter().map(|c| c.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
