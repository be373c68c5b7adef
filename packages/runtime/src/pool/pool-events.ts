import { createContextKey, type ContextKey } from "../context-values.js";
import type { RpcError } from "../errors.js";

/**
 * The state of one server of a pool:
 * - `idle`: not connecting (the pool has made no call yet, or went idle: `idleTimeoutMs`);
 * - `connecting`: a first connection is being opened;
 * - `ready`: at least one connection is up;
 * - `transient_failure`: its last attempt failed; the next follows the backoff;
 * - `ejected`: it kept failing and is out of rotation for a while.
 */
export type AddressState = "idle" | "connecting" | "ready" | "transient_failure" | "ejected";

/** Counters of one server of a pool, since the pool started (or the server appeared). */
export interface AddressStats {
  /** "host:port" or "unix:/path". */
  readonly address: string;
  readonly state: AddressState;
  /** Its relative share of calls. */
  readonly weight: number;
  /** Connections up now and taking calls. */
  readonly connections: number;
  /** Calls in flight on its connections. */
  readonly pendingCalls: number;
  /** Connections opened. */
  readonly connectionsUp: number;
  /** Connections closed, for any reason (including aged out and drained). */
  readonly connectionsDown: number;
  /** Attempts to connect that failed. */
  readonly connectFailures: number;
  /** Calls (attempts) sent to it. */
  readonly picks: number;
  /** Times it was ejected. */
  readonly ejections: number;
  /** The last connection error, if any. */
  readonly lastError: RpcError | undefined;
}

/** Counters of a pool, since it started. */
export interface PoolStats {
  /** The pool's target. */
  readonly target: string;
  /** Servers the target resolves to now. */
  readonly resolved: number;
  /**
   * The servers the pool uses now: every resolved server, or with
   * subsetting its subset, the servers it ejected, and keys' servers it
   * connected to outside the subset.
   */
  readonly addresses: readonly AddressStats[];
  /** Calls (attempts) sent, retries included. */
  readonly picks: number;
  /** Calls sent again on another connection. */
  readonly retries: number;
  /** Retries the retry budget refused. */
  readonly retriesDenied: number;
  /** Calls that had to wait for a connection. */
  readonly waits: number;
  /** Calls that waited in vain and failed `unavailable`. */
  readonly waitTimeouts: number;
  /** Successful resolutions of the target. */
  readonly resolutions: number;
  /** Failed resolutions. */
  readonly resolveFailures: number;
  /** Retry budget tokens left. */
  readonly retryTokens: number;
}

/** What a pool reports as it happens (subscribe(), or the `onEvent` option). */
export type PoolEvent =
  | { readonly type: "resolved"; readonly addresses: readonly string[] }
  | { readonly type: "resolve_failed"; readonly error: RpcError }
  | { readonly type: "connection_up"; readonly address: string }
  | {
      readonly type: "connection_down";
      readonly address: string;
      /** Why: the error, or the reason the pool retired it. */
      readonly error: RpcError;
      /** True when the pool closed it on purpose (aged out, drained, removed, ejected, pool closed). */
      readonly planned: boolean;
    }
  | { readonly type: "connect_failed"; readonly address: string; readonly error: RpcError; readonly retryInMs: number }
  | {
      readonly type: "connection_retiring";
      readonly address: string;
      /**
       * `max_age`: aged out; `server_draining`: the server is shutting down;
       * `removed`: no longer resolved; `ejected`; `idle`: the pool went idle;
       * `subset`: out of this client's subset (another server took its
       * place, or a key's server outside the subset went a minute unused).
       */
      readonly reason: "max_age" | "server_draining" | "removed" | "ejected" | "idle" | "subset";
    }
  /** No call for `idleTimeoutMs`: the pool closed its connections and stopped resolving; the next call starts it again. */
  | { readonly type: "idle" }
  | { readonly type: "ejected"; readonly address: string; readonly forMs: number }
  | { readonly type: "readmitted"; readonly address: string }
  | {
      readonly type: "retry";
      /** "package.Service/Method". */
      readonly method: string;
      /** The attempt about to be made (2 for the first retry). */
      readonly attempt: number;
      /** Where the failed attempt went. */
      readonly address: string;
      readonly error: RpcError;
      /** True when the failed attempt never ran (any method may be retried then). */
      readonly neverRan: boolean;
    };

/** One attempt of a call through a pool. */
export interface PoolAttempt {
  /** The server it went to. */
  readonly address: string;
  /** Its error, when it failed. */
  error?: RpcError;
}

/** What a pool records about one call, for interceptors (see {@link poolCallInfo}). */
export interface PoolCallInfo {
  /** Every attempt, in order; more than one when the call was retried. */
  readonly attempts: PoolAttempt[];
}

/**
 * The context key under which a pool records each call's attempts in the
 * call's `contextValues`: an interceptor given to the pool (or to
 * createClient over it) reads `req.contextValues.get(poolCallInfo)` after
 * `next(req)` to see where the call went and whether it was retried.
 */
export const poolCallInfo: ContextKey<PoolCallInfo | undefined> = createContextKey<PoolCallInfo | undefined>(undefined, {
  description: "protosocket pool call info",
});
