// @grpc/grpc-js over h2c. The service definition is written by hand so that its
// serialize/deserialize are protobuf-es toBinary/fromBinary with the generated schemas:
// the same codec as protosocket-ts, so the comparison is of the RPC layer alone.

import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  CountRequestSchema,
  CountResponseSchema,
  EchoRequestSchema,
  EchoResponseSchema,
  type CountRequest,
  type CountResponse,
  type EchoRequest,
  type EchoResponse,
} from "@protosocket/gen/echo/v1/echo_pb.js";
import { ECHO_MESSAGE, type BenchChat, type BenchClient, type BenchServer, type ConnectOptions, type System } from "../system.js";
import { grpcOpenChat, grpcUpload, streamingImplementation, streamingServiceDefinition } from "./grpc-js-streams.js";

const serializeEchoRequest = (m: EchoRequest): Buffer => Buffer.from(toBinary(EchoRequestSchema, m));
const deserializeEchoRequest = (b: Buffer): EchoRequest => fromBinary(EchoRequestSchema, b);
const serializeEchoResponse = (m: EchoResponse): Buffer => Buffer.from(toBinary(EchoResponseSchema, m));
const deserializeEchoResponse = (b: Buffer): EchoResponse => fromBinary(EchoResponseSchema, b);
const serializeCountRequest = (m: CountRequest): Buffer => Buffer.from(toBinary(CountRequestSchema, m));
const deserializeCountRequest = (b: Buffer): CountRequest => fromBinary(CountRequestSchema, b);
const serializeCountResponse = (m: CountResponse): Buffer => Buffer.from(toBinary(CountResponseSchema, m));
const deserializeCountResponse = (b: Buffer): CountResponse => fromBinary(CountResponseSchema, b);

const ECHO_PATH = "/echo.v1.EchoService/Echo";
const COUNT_PATH = "/echo.v1.EchoService/Count";

export const echoServiceDefinition = {
  echo: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: serializeEchoRequest,
    requestDeserialize: deserializeEchoRequest,
    responseSerialize: serializeEchoResponse,
    responseDeserialize: deserializeEchoResponse,
  },
  count: {
    path: COUNT_PATH,
    requestStream: false,
    responseStream: true,
    requestSerialize: serializeCountRequest,
    requestDeserialize: deserializeCountRequest,
    responseSerialize: serializeCountResponse,
    responseDeserialize: deserializeCountResponse,
  },
} satisfies grpc.ServiceDefinition;

const implementation: grpc.UntypedServiceImplementation = {
  echo(call: grpc.ServerUnaryCall<EchoRequest, EchoResponse>, callback: grpc.sendUnaryData<EchoResponse>) {
    const request = call.request;
    callback(null, create(EchoResponseSchema, { message: request.message, payload: request.payload }));
  },
  count(call: grpc.ServerWritableStream<CountRequest, CountResponse>) {
    const count = call.request.count;
    let n = 1;
    let cancelled = false;
    call.on("cancelled", () => (cancelled = true));
    const pump = (): void => {
      while (n <= count && !cancelled) {
        if (!call.write(create(CountResponseSchema, { n: n++ }))) {
          call.once("drain", pump);
          return;
        }
      }
      if (!cancelled) call.end();
    };
    pump();
  },
};

/** Channel options shared by every grpc-js client here: one HTTP/2 connection, no limits in the way. */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
  "grpc.max_send_message_length": 16 * 1024 * 1024,
};

class GrpcJsClient implements BenchClient {
  constructor(private readonly client: grpc.Client) {}

  unary(payload: Uint8Array): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.client.makeUnaryRequest(
        ECHO_PATH,
        serializeEchoRequest,
        deserializeEchoResponse,
        create(EchoRequestSchema, { message: ECHO_MESSAGE, payload }),
        (error, response) => {
          if (error !== null || response === undefined) reject(error ?? new Error("grpc-js: no response"));
          else resolve(response.payload.length);
        },
      );
    });
  }

  stream(count: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      let received = 0;
      const call = this.client.makeServerStreamRequest(
        COUNT_PATH,
        serializeCountRequest,
        deserializeCountResponse,
        create(CountRequestSchema, { count }),
      );
      call.on("data", () => received++);
      call.on("error", reject);
      call.on("end", () => resolve(received));
    });
  }

  upload(stop: () => boolean): Promise<number> {
    return grpcUpload(this.client, stop);
  }

  async openChat(): Promise<BenchChat> {
    return grpcOpenChat(this.client);
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

export const grpcJs: System = {
  name: "grpc-js",
  description: "@grpc/grpc-js, gRPC over h2c, protobuf-es toBinary/fromBinary as its codec",
  server: "grpc-js",
  requestStreams: true,
  async serve(port: number): Promise<BenchServer> {
    const server = new grpc.Server(CHANNEL_OPTIONS);
    server.addService(echoServiceDefinition, implementation);
    server.addService(streamingServiceDefinition, streamingImplementation);
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
        error === null ? resolve(p) : reject(error),
      ),
    );
    return {
      port: bound,
      close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
    };
  },
  async connect(options: ConnectOptions): Promise<BenchClient> {
    const client = new grpc.Client(`${options.host}:${options.port}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    await new Promise<void>((resolve, reject) =>
      client.waitForReady(Date.now() + 10_000, (error) => (error === undefined || error === null ? resolve() : reject(error))),
    );
    return new GrpcJsClient(client);
  },
};
