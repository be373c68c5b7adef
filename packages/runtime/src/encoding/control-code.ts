/** The control codes of protosocket envelopes. */
export const ControlCode = {
  /** A request, or a data response. */
  Normal: 0,
  /** Stop the call with this id (either direction). */
  Cancel: 1,
  /** Server to client: the stream with this id ended normally. */
  End: 2,
} as const;

/** One of the three control codes. */
export type ControlCode = (typeof ControlCode)[keyof typeof ControlCode];

/** Maps a received code to a control code: anything but 0, 1 or 2 is a Cancel (docs/decisions.md, "Wire and ids"). */
export function toControlCode(raw: number): ControlCode {
  return raw === 0 || raw === 2 ? raw : ControlCode.Cancel;
}
