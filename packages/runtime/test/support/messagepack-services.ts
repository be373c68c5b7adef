/**
 * MessagePack services for the runtime's tests: a "notes" service whose
 * messages use every schema kind, with envelopes that bind metadata and a
 * deadline, and a service of the same envelopes without an error case.
 */
import * as mp from "../../src/messagepack.js";

export type Priority = "Low" | "High" | { readonly Custom: number };
export const Priority = mp.enumeration("Priority", { Low: null, High: null, Custom: mp.u8 });

export interface Author {
  name: string;
  id: number | bigint;
}
export const Author = mp.struct<Author>("Author", { name: mp.string, id: mp.u64 });

export interface Note {
  id: number | bigint;
  title: string;
  body: Uint8Array;
  tags: string[];
  score: number;
  delta: number | bigint;
  pinned: boolean;
  author: Author | undefined;
  priority: Priority;
  attributes: Record<string, string>;
}
export const Note = mp.struct<Note>("Note", {
  id: mp.u64,
  title: mp.string,
  body: mp.bytes,
  tags: mp.vec(mp.string),
  score: mp.f64,
  delta: mp.i64,
  pinned: mp.bool,
  author: mp.option(Author),
  priority: Priority,
  attributes: mp.map(mp.string),
});

export interface ListRequest {
  count: number;
  delayMs: number;
}
export const ListRequest = mp.struct<ListRequest>("ListRequest", { count: mp.u32, delayMs: mp.u32 });
export interface ListItem {
  n: number;
}
export const ListItem = mp.struct<ListItem>("ListItem", { n: mp.u32 });
export interface WaitRequest {
  ms: number;
}
export const WaitRequest = mp.struct<WaitRequest>("WaitRequest", { ms: mp.u32 });
export type Empty = Record<string, never>;
export const Empty = mp.struct<Empty>("Empty", {});
export interface Status {
  code: number;
  message: string;
}
export const Status = mp.struct<Status>("Status", { code: mp.u32, message: mp.string });
export interface FailRequest {
  code: number;
  message: string;
}
export const FailRequest = mp.struct<FailRequest>("FailRequest", { code: mp.u32, message: mp.string });

/** Request { request_id, code, body: Option<RequestBody>, metadata: Option<HashMap<String, String>>, deadline_ms: u64 }. */
export const NotesRequest: mp.EnvelopeSpec = {
  name: "Request",
  fields: { request_id: "id", code: "code", body: "body", metadata: "metadata", deadline_ms: "deadline" },
};
/** Response { request_id, code, body: Option<ResponseBody>, metadata: Option<HashMap<String, String>> }. */
export const NotesResponse: mp.EnvelopeSpec = {
  name: "Response",
  fields: { request_id: "id", code: "code", body: "body", metadata: "metadata" },
};
export const NotesError: mp.ErrorCaseSpec = { schema: Status };

export const NotesService = mp.defineMessagePackService({
  typeName: "test.NotesService",
  request: NotesRequest,
  response: NotesResponse,
  error: NotesError,
  methods: {
    put: mp.unary(Note, Note),
    list: mp.serverStreaming(ListRequest, ListItem),
    wait: mp.unary(WaitRequest, Empty),
    fail: mp.unary(FailRequest, Empty),
  },
});

/** A second service on the same envelopes: one listener serves both. */
export const PingService = mp.defineMessagePackService({
  typeName: "test.PingService",
  request: NotesRequest,
  response: NotesResponse,
  error: NotesError,
  methods: { ping: mp.unary(Empty, Empty) },
});

/** Envelopes without an error case: a failed handler answers Cancel. */
export const BareService = mp.defineMessagePackService({
  typeName: "test.BareService",
  request: { name: "BareRequest", fields: { id: "id", code: "code", body: "body" } },
  response: { name: "BareResponse", fields: { id: "id", code: "code", body: "body" } },
  methods: { fail: mp.unary(FailRequest, Empty) },
});

/** A note with every field set. */
export function sampleNote(id: number | bigint = 7): Note {
  return {
    id,
    title: "hello",
    body: new Uint8Array([1, 2, 3]),
    tags: ["a", "b"],
    score: 2.5,
    delta: -3,
    pinned: true,
    author: { name: "Ada", id: 2n ** 60n },
    priority: { Custom: 9 },
    attributes: { color: "blue" },
  };
}
