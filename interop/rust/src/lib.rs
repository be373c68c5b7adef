//! Rust peers for the protosocket-ts interop suite.
//!
//! Everything here is built on the real `protosocket-rpc` / `protosocket-prost` crates
//! from crates.io, so the bytes on the wire are exactly what a Rust protosocket service
//! produces. See `interop/rust/README.md`.
//!
//! * [`pb`]: prost types generated from `proto/interop/v1/interop.proto`.
//! * [`envelope`]: the `protosocket_rpc::Message` impls for the two envelopes.
//! * [`server`]: the interop server (`interop-server` binary).
//! * [`client`]: the scripted scenarios (`interop-client` binary).
//! * [`vectors`]: the byte vectors written to `interop/vectors/frames.json`.
//! * [`bench`]: the benchmark's Rust server and load generator (`bench-server`,
//!   `bench-loadgen`; bench/README.md).
//! * [`mp`], [`mp_client`]: the MessagePack peers on `protosocket-messagepack`
//!   (`mp-interop-server`, `mp-interop-client`).
//! * [`standard`], [`std_client`]: the standard envelope (`protosocket.v1.Request` /
//!   `Response`, methods by name) carrying the gRPC-style `routeguide.v1` services
//!   (`std-interop-server`, `std-interop-client`).

pub mod bench;
pub mod client;
pub mod envelope;
pub mod json;
pub mod mp;
pub mod mp_client;
pub mod pb;
pub mod server;
pub mod standard;
pub mod std_client;
pub mod tls;
pub mod vectors;

pub use pb::interop::v1 as interop;
pub use pb::protosocket::v1 as status;

/// The codec of a server connection: encodes `Response`, decodes `Request`.
pub type ServerCodec = (
    protosocket::PooledEncoder<protosocket_prost::ProstSerializer<interop::Response>>,
    protosocket_prost::ProstDecoder<interop::Request>,
);

/// The codec of a client connection: encodes `Request`, decodes `Response`.
pub type ClientCodec = (
    protosocket::PooledEncoder<protosocket_prost::ProstSerializer<interop::Request>>,
    protosocket_prost::ProstDecoder<interop::Response>,
);

/// Type URL of the detail the server puts in `fail` errors with `with_details`.
pub const DETAIL_TYPE_URL: &str = "type.googleapis.com/interop.v1.EchoResponse";
