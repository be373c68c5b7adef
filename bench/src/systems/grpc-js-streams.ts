// The client-streaming and bidi workloads for @grpc/grpc-js: streaming.v1.StreamingService
// (Upload, Chat), with a hand-written service definition whose (de)serializers are
// protobuf-es toBinary/fromBinary, as in grpc-js.ts. The same handlers as every system:
// Upload counts chunks and bytes, Chat answers each message with itself.

import { once } from "node:events";
import type * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ChatMessageSchema,
  ChunkSchema,
  UploadSummarySchema,
  type ChatMessage,
  type Chunk,
  type UploadSummary,
} from "@protosocket/gen/streaming/v1/streaming_pb.js";
import { ECHO_MESSAGE, type BenchChat } from "../system.js";
import { SMALL_PAYLOAD_BYTES } from "../messages.js";

const serializeChunk = (m: Chunk): Buffer => Buffer.from(toBinary(ChunkSchema, m));
const deserializeChunk = (b: Buffer): Chunk => fromBinary(ChunkSchema, b);
const serializeSummary = (m: UploadSummary): Buffer => Buffer.from(toBinary(UploadSummarySchema, m));
const deserializeSummary = (b: Buffer): UploadSummary => fromBinary(UploadSummarySchema, b);
const serializeChat = (m: ChatMessage): Buffer => Buffer.from(toBinary(ChatMessageSchema, m));
const deserializeChat = (b: Buffer): ChatMessage => fromBinary(ChatMessageSchema, b);

const UPLOAD_PATH = "/streaming.v1.StreamingService/Upload";
const CHAT_PATH = "/streaming.v1.StreamingService/Chat";

export const streamingServiceDefinition = {
  upload: {
    path: UPLOAD_PATH,
    requestStream: true,
    responseStream: false,
    requestSerialize: serializeChunk,
    requestDeserialize: deserializeChunk,
    responseSerialize: serializeSummary,
    responseDeserialize: deserializeSummary,
  },
  chat: {
    path: CHAT_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: serializeChat,
    requestDeserialize: deserializeChat,
    responseSerialize: serializeChat,
    responseDeserialize: deserializeChat,
  },
} satisfies grpc.ServiceDefinition;

export const streamingImplementation: grpc.UntypedServiceImplementation = {
  upload(call: grpc.ServerReadableStream<Chunk, UploadSummary>, callback: grpc.sendUnaryData<UploadSummary>) {
    let chunks = 0;
    let bytes = 0;
    let lastSeq = 0;
    call.on("data", (chunk: Chunk) => {
      chunks++;
      bytes += chunk.data.length;
      lastSeq = chunk.seq;
    });
    call.on("end", () => callback(null, create(UploadSummarySchema, { chunks, bytes: BigInt(bytes), lastSeq })));
  },
  chat(call: grpc.ServerDuplexStream<ChatMessage, ChatMessage>) {
    call.on("data", (m: ChatMessage) => call.write(m));
    call.on("end", () => call.end());
  },
};

/** One upload, written as fast as the call's stream takes it (waiting for 'drain' when write() says so) until `stop()`. */
export function grpcUpload(client: grpc.Client, stop: () => boolean): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const call = client.makeClientStreamRequest(UPLOAD_PATH, serializeChunk, deserializeSummary, (error, summary) => {
      if (error !== null || summary === undefined) reject(error ?? new Error("grpc-js: no upload summary"));
      else resolve(summary.chunks);
    });
    const data = new Uint8Array(SMALL_PAYLOAD_BYTES).fill(0x61);
    void (async () => {
      for (let seq = 1; !stop(); seq++) {
        if (!call.write(create(ChunkSchema, { seq, data }))) await once(call, "drain");
      }
      call.end();
    })().catch(reject);
  });
}

/** A bidi Chat call for ping-pong. */
export function grpcOpenChat(client: grpc.Client): BenchChat {
  const call = client.makeBidiStreamRequest(CHAT_PATH, serializeChat, deserializeChat);
  const payload = new Uint8Array(SMALL_PAYLOAD_BYTES).fill(0x61);
  let waiting: { resolve(): void; reject(e: unknown): void } | undefined;
  let failed: unknown;
  call.on("data", () => {
    const w = waiting;
    waiting = undefined;
    w?.resolve();
  });
  call.on("error", (e) => {
    failed = e;
    waiting?.reject(e);
  });
  let seq = 0;
  return {
    roundTrip() {
      if (failed !== undefined) return Promise.reject(failed);
      return new Promise<void>((resolve, reject) => {
        waiting = { resolve, reject };
        call.write(create(ChatMessageSchema, { seq: ++seq, text: ECHO_MESSAGE, payload }));
      });
    },
    async close() {
      call.end();
    },
  };
}
