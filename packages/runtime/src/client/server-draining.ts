import type { EnvelopeCodecs } from "../encoding/encoding.js";
import { ControlCode } from "../encoding/control-code.js";
import type { InboundEnvelope } from "../encoding/envelope-wire.js";
import { carriesDraining } from "../draining.js";
import { Code, type RpcError } from "../errors.js";
import { markNotRun } from "./not-run.js";

/**
 * What a connection knows of its server's draining: the id of the first
 * call a draining server refused (with the `protosocket.v1.Draining`
 * detail), from which on it runs no call. Requests are read in order and
 * ids rise in send order, so every call with a larger id never ran.
 */
export class ServerDraining {
  /** The id of the first call the server refused while draining; Infinity while it is not draining. */
  private from = Number.POSITIVE_INFINITY;

  /** @param onDraining called once, when the server first says it is draining. */
  constructor(private readonly onDraining: (() => void) | undefined) {}

  /** True once the server has said it is draining: it runs no new call here. */
  get draining(): boolean {
    return this.from !== Number.POSITIVE_INFINITY;
  }

  /** True when the server did not run call `id` (sent after the first it refused). */
  ranNot(id: number): boolean {
    return id > this.from;
  }

  /**
   * `failure` (of call `id`) when it is a draining server's refusal: marks
   * it never-run and records that the server runs nothing from `id` on.
   */
  refusal(id: number, failure: RpcError): void {
    if (failure.code === Code.Unavailable && failure.details.length > 0 && carriesDraining(failure.details)) this.refused(id, failure);
  }

  /**
   * A frame for id 0: when it is the Draining notice a server sends as it
   * ends the connection, every call not answered by now was not run (the
   * server answered every request it ran before this frame).
   */
  notice(codecs: EnvelopeCodecs, inbound: InboundEnvelope): void {
    const error = codecs.error;
    if (inbound.code !== ControlCode.Normal || error === undefined || inbound.carried !== error.target) return;
    const value = inbound.read(error.target);
    if (value === undefined) return;
    const err = error.codec.read(value as object);
    if (err.code === Code.Unavailable && carriesDraining(err.details)) this.refused(0, undefined);
  }

  private refused(id: number, failure: RpcError | undefined): void {
    if (failure !== undefined) markNotRun(failure);
    if (id >= this.from) return;
    const first = this.from === Number.POSITIVE_INFINITY;
    this.from = id;
    if (first && this.onDraining !== undefined) {
      try {
        this.onDraining();
      } catch {
        // A failing hook must not disturb the calls.
      }
    }
  }
}
