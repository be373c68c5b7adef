//! `protosocket_rpc::Message` for the interop envelopes, written like the reference's
//! example-proto impl: the id is `request_id`, the control code is `code as u8`
//! (so 0 Normal, 1 Cancel, 2 End, any other low byte Cancel; 256 reads as Normal).

use protosocket_rpc::{Message, ProtosocketControlCode};

use crate::interop::{Request, Response};

impl Message for Request {
    fn message_id(&self) -> u64 {
        self.request_id
    }

    fn control_code(&self) -> ProtosocketControlCode {
        ProtosocketControlCode::from_u8(self.code as u8)
    }

    fn set_message_id(&mut self, message_id: u64) {
        self.request_id = message_id;
    }

    fn cancelled(message_id: u64) -> Self {
        Request {
            request_id: message_id,
            code: ProtosocketControlCode::Cancel.as_u8() as u32,
            body: None,
        }
    }

    fn ended(message_id: u64) -> Self {
        Request {
            request_id: message_id,
            code: ProtosocketControlCode::End.as_u8() as u32,
            body: None,
        }
    }
}

impl Message for Response {
    fn message_id(&self) -> u64 {
        self.request_id
    }

    fn control_code(&self) -> ProtosocketControlCode {
        ProtosocketControlCode::from_u8(self.code as u8)
    }

    fn set_message_id(&mut self, message_id: u64) {
        self.request_id = message_id;
    }

    fn cancelled(message_id: u64) -> Self {
        Response {
            request_id: message_id,
            code: ProtosocketControlCode::Cancel.as_u8() as u32,
            body: None,
        }
    }

    fn ended(message_id: u64) -> Self {
        Response {
            request_id: message_id,
            code: ProtosocketControlCode::End.as_u8() as u32,
            body: None,
        }
    }
}

/// The control code as the Rust peers read it, as a lower-case word.
pub fn control_word(code: u32) -> &'static str {
    match ProtosocketControlCode::from_u8(code as u8) {
        ProtosocketControlCode::Normal => "normal",
        ProtosocketControlCode::Cancel => "cancel",
        ProtosocketControlCode::End => "end",
    }
}
