import type { FrameLink } from "../conn/frame-link.js";
import { ControlCode } from "../encoding/control-code.js";
import type { EnvelopeWire } from "../encoding/envelope-wire.js";

/** How often a connection paused for a slow stream consumer checks that its server is alive. */
const PAUSED_PROBE_MS = 400;

/**
 * A connection's reading, paused while any of its streams' readers has
 * fallen behind. A socket that is not read never reports the server's FIN
 * or RST, so while paused the client writes a Cancel for id 0 (an id it
 * never assigns; servers ignore Cancels for unknown ids) every
 * PAUSED_PROBE_MS: against a dead server the write fails, the connection
 * closes and every call fails promptly.
 */
export class StreamPause {
  private paused = 0;
  private probe: ReturnType<typeof setInterval> | undefined;

  /** @param link the connection's link. */
  constructor(private readonly link: FrameLink) {}

  /** One more stream fell behind; `request` writes the probe. */
  pause(request: EnvelopeWire): void {
    if (this.paused++ > 0) return;
    const link = this.link;
    link.pauseReading();
    this.probe = setInterval(() => {
      if (!link.ended) request.write(link, 0, ControlCode.Cancel);
    }, PAUSED_PROBE_MS);
    (this.probe as { unref?: () => void }).unref?.();
  }

  /** Undoes one {@link pause}. */
  resume(): void {
    if (this.paused === 0 || --this.paused > 0) return;
    this.stop();
    this.link.resumeReading();
  }

  /** Stops the probe (the connection closed). */
  stop(): void {
    clearInterval(this.probe);
    this.probe = undefined;
  }
}
