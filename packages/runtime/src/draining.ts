/**
 * The detail a shutting-down server puts on the requests it refuses
 * (`protosocket.v1.Draining`, proto/protosocket/v1/draining.proto): that
 * request was not run, and no later request of its connection will be. The
 * server adds it; a client connection reads it to know which of its calls
 * never ran (docs/decisions.md, "Beyond one server").
 */
import { create } from "@bufbuild/protobuf";
import { anyIs, anyPack, type Any } from "@bufbuild/protobuf/wkt";
import { DrainingSchema } from "./gen/protosocket/v1/draining_pb.js";

/** The `google.protobuf.Any` detail a draining server sends with its `unavailable` refusals. */
export const DRAINING_DETAIL: Any = anyPack(DrainingSchema, create(DrainingSchema));

/** True when `details` carry the {@link DRAINING_DETAIL}. */
export function carriesDraining(details: readonly Any[]): boolean {
  for (const d of details) if (anyIs(d, DrainingSchema)) return true;
  return false;
}
