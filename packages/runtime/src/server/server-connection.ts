import type { FrameHandler, FrameLink } from "../conn/frame-link.js";
import { DRAINING_DETAIL } from "../draining.js";
import { ControlCode } from "../encoding/control-code.js";
import type { InboundEnvelope } from "../encoding/envelope-wire.js";
import type { MessageId } from "../encoding/message-id.js";
import { Code, RpcError } from "../errors.js";
import { FrameError } from "../wire/frame-error.js";
import { admit, type AdmissionState } from "./admission.js";
import { CallRunner, type RunnerHost } from "./call-runner.js";
import type { RequestStream } from "./request-stream.js";
import type { ServerCall } from "./server-call.js";
import type { ServingState } from "./serving-state.js";

export type { ServingState } from "./serving-state.js";

/** How often a server whose client sent FIN checks, while calls run, that the client is still there. */
const PEER_PROBE_MS = 250;
/** The id the probe's Cancel carries (the largest uint64; a smaller one when that is in flight). */
const PROBE_ID = 2n ** 64n - 1n;

/**
 * A client's Cancel that arrives this share of the call's time budget (at
 * most DEADLINE_SLACK_MAX_MS) before the deadline it sent, or later, is
 * its deadline passing.
 */
const DEADLINE_SLACK_SHARE = 0.05;
const DEADLINE_SLACK_MAX_MS = 50;

/**
 * Serves calls on one link (an accepted socket, or memory): decodes
 * request frames, admits calls (admission.ts) and hands them to its
 * {@link CallRunner}, routes the frames of request streams and cancels, and
 * answers limits, shutdown and protocol violations.
 */
export class ServerConnection implements FrameHandler, RunnerHost, AdmissionState {
  private readonly calls = new Map<MessageId, ServerCall>();
  /**
   * Ids of request streams that ended on the server's side (answered,
   * failed, refused) before the client ended its side: their frames still on
   * the way are dropped until the client's End or Cancel. Bounded by the
   * concurrency limit, oldest forgotten first.
   */
  private readonly closing = new Set<MessageId>();
  private readPauses = 0;
  private resumedAt: number | undefined = Date.now();
  private draining = false;
  private drainWaiters: (() => void)[] = [];
  private sawFrame = false;
  private peerEnded = false;
  private peerProbe: ReturnType<typeof setInterval> | undefined;
  private lastCallEnded = Date.now();
  private runner: CallRunner;

  /**
   * @param link the link to the client; started here.
   * @param state what the server's connections share.
   * @param onClosed called once when the connection has closed.
   */
  constructor(
    readonly link: FrameLink,
    private state: ServingState,
    private readonly onClosed: (conn: ServerConnection, error: RpcError) => void,
  ) {
    this.runner = new CallRunner(this, state);
    link.start(this);
  }

  /** The client's address. */
  get peer(): string {
    return this.link.peer;
  }

  /** Calls running. */
  get activeCalls(): number {
    return this.calls.size;
  }

  /** True until the first complete frame arrives. */
  get awaitingFirstFrame(): boolean {
    return !this.sawFrame;
  }

  /** When the last call ended (or the connection opened). */
  get lastCallEndedAt(): number {
    return this.lastCallEnded;
  }

  /** Rejects new calls with `unavailable` from now on; resolves when no call is left running. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.calls.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Ends every running call with `error` (sent to the client), then ends the
   * link: what is queued is written, nothing after it, and the link closes
   * within `lingerMs` even if the client does not read.
   */
  shutdown(error: RpcError, lingerMs: number): void {
    this.draining = true;
    for (const call of [...this.calls.values()]) {
      this.stopCall(call, error);
      this.removeCall(call);
      this.runner.sendError(call.id, error.withContext({ method: call.method.codec.fullName }));
    }
    // The last frame, for message id 0 (no client call has it): every request run here has been
    // answered above; one the client has no answer for was not run, and may be sent elsewhere.
    if (this.state.codecs.error !== undefined) {
      this.runner.sendError(
        0,
        new RpcError(Code.Unavailable, "server is shutting down; requests not answered on this connection were not run", [DRAINING_DETAIL]),
      );
    }
    this.link.end(lingerMs);
  }

  /** Serves this connection with `state` from now on (before its first frame: side-services.ts). */
  private serveAs(state: ServingState | undefined): void {
    if (state === undefined) return;
    this.state = state;
    this.runner = new CallRunner(this, state);
  }

  /** Closes at once. */
  close(error: RpcError): void {
    this.link.close(error);
  }

  onFrame(body: Uint8Array): void {
    if (!this.sawFrame && this.state.firstFrame !== undefined) this.serveAs(this.state.firstFrame(body));
    this.sawFrame = true;
    const inbound = this.state.codecs.request.decode(body, this.state.metadataLimits);
    const id = inbound.id;
    const code = inbound.code;
    if (code === ControlCode.Cancel) {
      this.onCancel(id);
      return;
    }
    const live = this.calls.get(id);
    if (live?.inputOpen) {
      this.onRequestFrame(live, code, inbound);
      return;
    }
    if (this.closing.size > 0 && this.closing.has(id)) {
      // A request stream the server has finished with: drop the rest of it, until its End.
      if (code === ControlCode.End) this.closing.delete(id);
      return;
    }
    const method = inbound.carried === undefined ? undefined : this.state.routes.get(inbound.carried);
    const admission = admit(code, method, live !== undefined, inbound.metadataOverLimit, this);
    switch (admission.action) {
      case "start":
        this.runner.start(id, admission.method, admission.handler, inbound, admission.streaming);
        return;
      case "refuse":
        if (admission.streamOpen) this.rememberClosing(id);
        this.runner.sendError(id, admission.error);
        return;
      case "duplicate":
        this.state.reportConnectionError(
          new RpcError(
            Code.AlreadyExists,
            `message id ${id} is already in flight on this connection; the duplicate request was dropped`,
            [],
            {
              peer: this.peer,
            },
          ),
          this.peer,
        );
        return;
      case "ignore":
        return;
    }
  }

  /** AdmissionState: calls that may run at once. */
  get maxConcurrentCalls(): number {
    return this.state.maxConcurrentCalls;
  }

  /** AdmissionState: calls running on the whole server, and how many may. */
  get serverCalls(): { readonly running: number; readonly max: number } {
    return this.state.serverCalls;
  }

  /** AdmissionState: no new call runs once the server drains or the client has closed its side. */
  get closingDown(): boolean {
    return this.draining || this.peerEnded;
  }

  /** The client gave up on call `id`: stop the handler and echo the Cancel. A Cancel closes the client's side of a request stream too. */
  private onCancel(id: MessageId): void {
    const call = this.calls.get(id);
    if (call === undefined) {
      if (this.closing.size > 0) this.closing.delete(id);
      return;
    }
    call.inputOpen = false;
    this.stopCall(call, this.cancelReason(call));
    this.removeCall(call);
    this.runner.sendControl(id, ControlCode.Cancel);
  }

  /**
   * Why the client cancelled `call`: at (or just before) the deadline it
   * sent, its timer did (the Cancel may overtake the server's own timer by
   * the time the request took to arrive), so the handler sees
   * `deadline_exceeded`; otherwise `cancelled`.
   */
  private cancelReason(call: ServerCall): RpcError {
    const context = { method: call.method.codec.fullName, peer: this.peer };
    const deadline = call.ctx.deadline;
    if (deadline !== undefined) {
      const budget = call.deadlineMs ?? 0;
      const slack = Math.min(DEADLINE_SLACK_MAX_MS, Math.max(1, budget * DEADLINE_SLACK_SHARE));
      if (Date.now() >= deadline - slack) return this.runner.deadlineError(call, budget);
    }
    return new RpcError(Code.Cancelled, "call cancelled by the client", [], context);
  }

  /** A further frame of a request stream whose client side is open: a message, or End. */
  private onRequestFrame(call: ServerCall, code: ControlCode, inbound: InboundEnvelope): void {
    const input = call.input as RequestStream;
    if (code === ControlCode.End) {
      call.inputOpen = false;
      input.end();
      return;
    }
    const target = call.method.codec.request;
    if (inbound.carried !== target) {
      // Every frame of a request stream names its method: another case is the client's error, for this call only.
      const error = new RpcError(
        Code.InvalidArgument,
        `a request frame for message id ${call.id} (${call.method.codec.fullName}) carries ${inbound.carried === undefined ? "no method's case" : `the case "${inbound.carried.path.path}" of another method`}; every frame of a request stream carries its method's case`,
        [],
        { method: call.method.codec.fullName, peer: this.peer },
      );
      this.state.reportConnectionError(error, this.peer);
      this.stopCall(call, error);
      this.removeCall(call);
      this.runner.sendFailure(call, error);
      return;
    }
    // Invalid bytes throw here: a protocol violation that closes the connection.
    input.push(inbound.read(target));
  }

  /** Remembers the id of a request stream the server is done with while the client's side is open. */
  private rememberClosing(id: MessageId): void {
    const closing = this.closing;
    if (closing.size >= this.state.maxConcurrentCalls) {
      const oldest = closing.values().next();
      if (oldest.done !== true) closing.delete(oldest.value);
    }
    closing.add(id);
  }

  /** Stops reading the connection (counted); see RequestStreamHost. */
  pauseReading(): void {
    if (this.readPauses++ === 0) this.resumedAt = undefined;
    this.link.pauseReading();
  }

  /** Undoes one {@link pauseReading}. */
  resumeReading(): void {
    if (this.readPauses === 0) return;
    if (--this.readPauses === 0) this.resumedAt = Date.now();
    this.link.resumeReading();
  }

  /** When the connection last started reading again; undefined while it is paused. */
  get readingSince(): number | undefined {
    return this.resumedAt;
  }

  onProtocolError(error: RpcError, bodyHead: Uint8Array): void {
    // A request too large to receive: say so to the call it belonged to, where its first bytes name it.
    const cause = error.cause;
    if (!(cause instanceof FrameError) || cause.kind !== "frame-too-large") return;
    const id = this.state.codecs.request.peekId(bodyHead);
    if (id === undefined || id === 0 || this.calls.has(id)) return;
    this.runner.sendError(
      id,
      new RpcError(
        Code.ResourceExhausted,
        `request of ${cause.frameBytes ?? "?"} bytes exceeds the server's frame limit of ${this.state.maxFrameBytes} bytes (maxFrameBytes); connection closed`,
      ),
    );
  }

  onPeerEnd(): void {
    // The client sent its last request (a half-close): answer what it asked, then close.
    this.peerEnded = true;
    // A request stream the client left open can get no more messages.
    for (const call of this.calls.values()) {
      if (!call.inputOpen) continue;
      call.inputOpen = false;
      (call.input as RequestStream).fail(
        new RpcError(Code.Unavailable, "the client closed its side of the connection before ending the request stream", [], {
          method: call.method.codec.fullName,
          peer: this.peer,
        }),
      );
    }
    this.endIfIdle();
    if (this.calls.size > 0 && !this.link.ended) this.startPeerProbe();
  }

  /**
   * A FIN looks the same whether the client only half-closed (and waits for
   * its answers) or went away entirely (a process that exited or was
   * killed). While calls run, write a Cancel for an id not in flight every
   * PEER_PROBE_MS (clients ignore frames for ids they do not have): to a
   * client that is gone, the write fails, the connection closes and the
   * handlers stop, instead of running to the end for nobody.
   */
  private startPeerProbe(): void {
    if (this.peerProbe !== undefined) return;
    this.peerProbe = setInterval(() => {
      if (this.link.ended || this.calls.size === 0) {
        clearInterval(this.peerProbe);
        this.peerProbe = undefined;
        return;
      }
      let id: MessageId = PROBE_ID;
      while (this.calls.has(id)) id = (id as bigint) - 1n;
      this.state.codecs.response.write(this.link, id, ControlCode.Cancel);
    }, PEER_PROBE_MS);
    (this.peerProbe as { unref?: () => void }).unref?.();
  }

  onClose(error: RpcError): void {
    clearInterval(this.peerProbe);
    this.peerProbe = undefined;
    const all = [...this.calls.values()];
    this.calls.clear();
    this.state.serverCalls.running -= all.length;
    for (const call of all) this.stopCall(call, error);
    this.notifyDrained();
    this.onClosed(this, error);
  }

  private notifyDrained(): void {
    if (this.calls.size === 0 && this.drainWaiters.length > 0) {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of w) f();
    }
  }

  /** Registers a call that starts (see RunnerHost). */
  track(call: ServerCall): void {
    this.calls.set(call.id, call);
    this.state.serverCalls.running++;
  }

  removeCall(call: ServerCall): void {
    call.done = true;
    call.deadlineTimer?.cancel();
    if (this.calls.get(call.id) === call) {
      this.calls.delete(call.id);
      this.state.serverCalls.running--;
    }
    const input = call.input;
    if (input !== undefined) {
      input.release();
      if (call.inputOpen) {
        // The server is done before the client's side ended: drop what is still on its way.
        call.inputOpen = false;
        this.rememberClosing(call.id);
      }
    }
    if (this.calls.size === 0) {
      this.lastCallEnded = Date.now();
      if (this.draining) this.notifyDrained();
      // The caller sends the call's last frame right after this; end after it.
      if (this.peerEnded) queueMicrotask(this.endIfIdle);
    }
  }

  private readonly endIfIdle = (): void => {
    if (this.calls.size === 0 && !this.link.ended) this.link.end(30_000);
  };

  /**
   * Stops a running call: aborts its signal, fails its request stream and
   * returns its response stream. Called before {@link removeCall}, which
   * would otherwise end the request stream normally.
   */
  stopCall(call: ServerCall, reason: RpcError): void {
    call.done = true;
    call.input?.fail(reason);
    call.ctx.abort(reason);
    const it = call.iterator;
    if (it?.return !== undefined) it.return().catch(() => {});
  }
}
