import type { DescMessage, Message, MessageInitShape } from "@bufbuild/protobuf";
import type { Socket } from "node:net";
import { createConnection, type Connection } from "../conn/connection.js";
import { ControlCode } from "../envelope/control-code.js";
import type { MessageId, WireTarget } from "../envelope/envelope-wire.js";
import { Code, RpcError } from "../errors.js";
import { FrameError } from "../wire/frame-error.js";
import type { RoutedMethod, ServerEnvelopes } from "./dispatch.js";
import { CallContext } from "./handler-context.js";

/** Limits and hooks of one server connection. */
export interface ServerConnectionOptions {
  /** The accepted socket. */
  socket: Socket;
  /** The client's address. */
  peer: string;
  /** Envelope codecs and routes. */
  envelopes: ServerEnvelopes;
  /** Largest frame, prefix included. */
  maxFrameBytes: number;
  /** Calls that may run at once on the connection. */
  maxConcurrentCalls: number;
  /** Called when the connection closes. */
  onClose(conn: ServerConnection, error: RpcError): void;
  /** Called for a handler error, for logging. */
  onHandlerError?(error: RpcError, method: string, peer: string): void;
}

/** One client connection of a server. */
export interface ServerConnection {
  /** The client's address. */
  readonly peer: string;
  /** Calls running. */
  readonly activeCalls: number;
  /** When the frame being received began, if one is incomplete. */
  readonly partialFrameSince: number | undefined;
  /** When the last complete frame arrived (or the connection opened). */
  readonly lastFrameAt: number;
  /** True until the first complete frame arrives. */
  readonly awaitingFirstFrame: boolean;
  /** When the last call ended (or the connection opened). */
  readonly lastCallEndedAt: number;
  /** Rejects new calls with `unavailable` from now on; resolves when no call is left running. */
  drain(): Promise<void>;
  /** Ends every running call with `error` (sent to the client), then closes the connection after writing what is queued. */
  shutdown(error: RpcError): void;
  /** Closes at once. */
  close(error: RpcError): void;
}

interface ServerCall {
  readonly id: MessageId;
  readonly method: RoutedMethod;
  readonly ctx: CallContext;
  done: boolean;
  iterator: AsyncIterator<unknown> | undefined;
}

/** Stream items produced between two turns of the event loop. */
const STREAM_YIELD_EVERY = 1024;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Serves calls on one accepted socket. */
export function createServerConnection(options: ServerConnectionOptions): ServerConnection {
  const { peer, envelopes, maxConcurrentCalls } = options;
  const calls = new Map<MessageId, ServerCall>();
  let draining = false;
  let drainWaiters: (() => void)[] = [];
  let readPaused = false;
  let sawFrame = false;
  let lastCallEndedAt = Date.now();
  let self: ServerConnection;

  const conn: Connection = createConnection({
    socket: options.socket,
    peer,
    maxFrameBytes: options.maxFrameBytes,
    onFrame,
    onClose(error) {
      const all = [...calls.values()];
      calls.clear();
      for (const call of all) stopCall(call, error);
      notifyDrained();
      options.onClose(self, error);
    },
  });

  /** Writes a response envelope; throws a FrameError when it exceeds the frame limit. */
  function send(id: MessageId, code: ControlCode, target?: WireTarget, body?: MessageInitShape<DescMessage>): void {
    if (conn.closed) return;
    envelopes.response.write(conn, id, code, target, body);
    if (!readPaused && !conn.writable) {
      // Inbound backpressure: read no more requests while the client does not read responses.
      readPaused = true;
      conn.pauseReading();
      void conn.whenWritable().then(() => {
        readPaused = false;
        conn.resumeReading();
      });
    }
  }

  function sendControl(id: MessageId, code: ControlCode): void {
    send(id, code);
  }

  /** Sends `error` for `id`: the error case when the envelope has one, otherwise a Cancel. */
  function sendError(id: MessageId, error: RpcError): void {
    const e = envelopes.error;
    if (e === undefined) {
      sendControl(id, ControlCode.Cancel);
      return;
    }
    send(id, ControlCode.Normal, e.target, e.codec.write(error));
  }

  function notifyDrained(): void {
    if (calls.size === 0 && drainWaiters.length > 0) {
      const w = drainWaiters;
      drainWaiters = [];
      for (const f of w) f();
    }
  }

  function removeCall(call: ServerCall): void {
    call.done = true;
    if (calls.get(call.id) === call) calls.delete(call.id);
    if (calls.size === 0) lastCallEndedAt = Date.now();
    if (draining) notifyDrained();
  }

  /** Stops a running call: aborts its signal and returns its stream. */
  function stopCall(call: ServerCall, reason: RpcError): void {
    call.done = true;
    call.ctx.abort(reason);
    const it = call.iterator;
    if (it?.return !== undefined) {
      it.return().catch(() => {});
    }
  }

  function onFrame(body: Uint8Array): void {
    sawFrame = true;
    const inbound = envelopes.request.decode(body);
    const id = inbound.id;
    const code = inbound.code;
    if (code === ControlCode.Cancel) {
      const call = calls.get(id);
      if (call !== undefined) {
        // The client gave up: stop the handler and echo the Cancel.
        removeCall(call);
        stopCall(call, new RpcError(Code.Cancelled, "call cancelled by the client", [], { method: call.method.fullName, peer }));
        sendControl(id, ControlCode.Cancel);
      }
      return;
    }
    if (code === ControlCode.End) {
      return; // clients never end anything; ignored like the Rust server does
    }
    if (calls.has(id)) {
      sendError(id, new RpcError(Code.AlreadyExists, `message id ${id} is already in flight on this connection; the duplicate was not run`));
      return;
    }
    if (draining) {
      sendError(id, new RpcError(Code.Unavailable, "server is shutting down"));
      return;
    }
    if (calls.size >= maxConcurrentCalls) {
      sendError(id, new RpcError(Code.ResourceExhausted, `too many concurrent calls on this connection (limit ${maxConcurrentCalls}, maxConcurrentCallsPerConnection)`));
      return;
    }
    const method = inbound.carried === undefined ? undefined : envelopes.routes.get(inbound.carried);
    if (method === undefined) {
      sendError(id, new RpcError(Code.Unimplemented, "the request carries no case of a method this server serves"));
      return;
    }
    // Invalid bytes throw here: a protocol violation that closes the connection.
    const request = inbound.read(method.request) as Message;
    if (method.handler === undefined) {
      sendError(id, new RpcError(Code.Unimplemented, `${method.fullName} is not implemented`));
      return;
    }
    const ctx = new CallContext(peer, method.fullName, method.desc, id);
    const call: ServerCall = { id, method, ctx, done: false, iterator: undefined };
    calls.set(id, call);
    if (method.binding.kind === "unary") {
      runUnary(call, method.handler, request);
    } else {
      void runStream(call, method.handler, request);
    }
  }

  function runUnary(call: ServerCall, handler: NonNullable<RoutedMethod["handler"]>, request: Message): void {
    let result: unknown;
    try {
      result = handler(request as never, call.ctx as never);
    } catch (e) {
      fail(call, e);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => respond(call, value),
        (e: unknown) => fail(call, e),
      );
    } else {
      respond(call, result);
    }
  }

  function respond(call: ServerCall, value: unknown): void {
    if (call.done) return;
    removeCall(call);
    try {
      sendResponse(call, value);
    } catch (e) {
      if (e instanceof FrameError) {
        // Nothing was written: say why instead.
        const err = new RpcError(Code.ResourceExhausted, `response not sent: ${e.message}`, [], { method: call.method.fullName, peer });
        options.onHandlerError?.(err, call.method.fullName, peer);
        sendError(call.id, err);
        return;
      }
      // The handler's value is not a valid response message.
      fail(call, e, true);
    }
  }

  /** Sends one response message; throws a FrameError over the frame limit, or the protobuf error of an invalid value. */
  function sendResponse(call: ServerCall, value: unknown): void {
    // The envelope codec writes the handler's value as create() would make it, without making it.
    send(call.id, ControlCode.Normal, call.method.response, value as MessageInitShape<DescMessage>);
  }

  function fail(call: ServerCall, reason: unknown, force = false): void {
    if (call.done && !force) return;
    removeCall(call);
    const error = RpcError.from(reason);
    if (error.code === Code.Cancelled) {
      // A handler that gives up with `cancelled` rejects the call with a bare Cancel, as a Rust server does.
      sendControl(call.id, ControlCode.Cancel);
      return;
    }
    options.onHandlerError?.(error, call.method.fullName, peer);
    sendError(call.id, error);
  }

  async function runStream(call: ServerCall, handler: NonNullable<RoutedMethod["handler"]>, request: Message): Promise<void> {
    try {
      const iterable = handler(request as never, call.ctx as never) as AsyncIterable<unknown>;
      const it = iterable[Symbol.asyncIterator]();
      call.iterator = it;
      for (let produced = 1; ; produced++) {
        if (!conn.writable) {
          await conn.whenWritable();
        } else if (produced % STREAM_YIELD_EVERY === 0) {
          // A generator that never awaits real I/O would hold the event loop
          // (and every other connection) until the queue filled; let I/O run.
          await yieldToEventLoop();
        }
        if (call.done) return;
        const r = await it.next();
        if (call.done) return;
        if (r.done === true) {
          removeCall(call);
          sendControl(call.id, ControlCode.End);
          return;
        }
        sendResponse(call, r.value);
      }
    } catch (e) {
      if (call.done) return;
      if (e instanceof FrameError) {
        fail(call, new RpcError(Code.ResourceExhausted, `stream response not sent: ${e.message}`));
      } else {
        fail(call, e);
      }
      const it = call.iterator;
      if (it?.return !== undefined) it.return().catch(() => {});
    }
  }

  self = {
    peer,
    get activeCalls() {
      return calls.size;
    },
    get partialFrameSince() {
      return conn.partialFrameSince;
    },
    get lastFrameAt() {
      return conn.lastFrameAt;
    },
    get awaitingFirstFrame() {
      return !sawFrame;
    },
    get lastCallEndedAt() {
      return lastCallEndedAt;
    },
    drain() {
      draining = true;
      if (calls.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => drainWaiters.push(resolve));
    },
    shutdown(error) {
      draining = true;
      const all = [...calls.values()];
      for (const call of all) {
        removeCall(call);
        stopCall(call, error);
        sendError(call.id, error.withContext({ method: call.method.fullName }));
      }
      conn.end();
    },
    close(error) {
      conn.close(error);
    },
  };
  return self;
}
