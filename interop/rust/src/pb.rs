//! prost types generated from proto/interop/v1/interop.proto.
pub mod protosocket {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/protosocket.v1.rs"));
    }
}
pub mod interop {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/interop.v1.rs"));
    }
}
