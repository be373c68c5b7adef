//! prost types generated from proto/interop/v1/interop.proto, and from the benchmark's
//! proto/echo/v1/echo.proto and proto/bench/v1/bench.proto, and the standard envelope
//! (protosocket/v1/standard.proto, in protosocket::v1) with proto/routeguide/v1/route_guide.proto.
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
pub mod echo {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/echo.v1.rs"));
    }
}
pub mod bench {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/bench.v1.rs"));
    }
}
pub mod routeguide {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/routeguide.v1.rs"));
    }
}
