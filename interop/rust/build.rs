//! Generates the prost types for `proto/interop/v1/interop.proto` (and the
//! `protosocket/v1/status.proto` it imports), and for the benchmark's
//! `proto/echo/v1/echo.proto` and `proto/bench/v1/bench.proto`; and the standard envelope
//! (`protosocket/v1/standard.proto`) with the gRPC-style `proto/routeguide/v1/route_guide.proto`
//! it carries. Needs `protoc` on PATH (or
//! `PROTOC=/path/to/protoc`) and the well-known types (`google/protobuf/any.proto`)
//! next to it; on Debian: `apt-get install -y protobuf-compiler libprotobuf-dev`.

fn main() -> std::io::Result<()> {
    let proto_root = "../../proto";
    let interop = "../../proto/interop/v1/interop.proto";
    // The benchmark's message sets, for bench-server and bench-loadgen (bench/README.md).
    let echo = "../../proto/echo/v1/echo.proto";
    let bench = "../../proto/bench/v1/bench.proto";
    // The standard envelope and a service with no envelope of its own (src/standard.rs).
    let standard = "../../proto/protosocket/v1/standard.proto";
    let routeguide = "../../proto/routeguide/v1/route_guide.proto";
    for file in [interop, echo, bench, standard, routeguide] {
        println!("cargo:rerun-if-changed={file}");
    }
    println!("cargo:rerun-if-changed={proto_root}/protosocket/v1/status.proto");
    println!("cargo:rerun-if-changed={proto_root}/protosocket/v1/options.proto");

    let mut config = prost_build::Config::new();
    // `bytes` fields stay `Vec<u8>`; `google.protobuf.Any` maps to `prost_types::Any`
    // (prost-build's default extern path for the well-known types).
    config.compile_protos(&[interop, echo, bench, standard, routeguide], &[proto_root])?;
    Ok(())
}
