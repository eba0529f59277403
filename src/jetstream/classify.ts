/**
 * Sorts what the NATS client throws into the three things a sink can do about it: give up with a
 * typed error (permanent), find out what the stream holds and carry on (expectation failed), or
 * wait and retry (the connection or the cluster is having a moment).
 */

/** JetStream API error codes (nats-server's errors.json) the sink tells apart. */
export const JS_ERR = {
  STREAM_NOT_FOUND: 10059,
  NO_MESSAGE_FOUND: 10037,
  WRONG_LAST_SEQUENCE: 10071,
  WRONG_LAST_MSG_ID: 10070,
  STREAM_MISMATCH: 10060,
  MESSAGE_TOO_LARGE: 10054,
  JETSTREAM_NOT_ENABLED: 10076,
  JETSTREAM_NOT_ENABLED_ACCOUNT: 10039,
} as const;

export type Failure =
  | { kind: 'auth'; detail: string }
  | { kind: 'too-large'; detail: string }
  | { kind: 'stream-not-found'; detail: string }
  | { kind: 'no-message'; detail: string }
  | { kind: 'expectation'; detail: string }
  | { kind: 'transient'; detail: string };

interface NatsLikeError {
  code?: string;
  message?: string;
  api_error?: { code?: number; err_code?: number; description?: string };
  permissionContext?: unknown;
}

export function classify(err: unknown): Failure {
  const e = (err ?? {}) as NatsLikeError;
  const detail = e.api_error?.description ?? e.message ?? String(err);
  switch (e.api_error?.err_code) {
    case JS_ERR.STREAM_NOT_FOUND:
    case JS_ERR.JETSTREAM_NOT_ENABLED:
    case JS_ERR.JETSTREAM_NOT_ENABLED_ACCOUNT:
      return { kind: 'stream-not-found', detail };
    case JS_ERR.NO_MESSAGE_FOUND:
      return { kind: 'no-message', detail };
    case JS_ERR.WRONG_LAST_SEQUENCE:
    case JS_ERR.WRONG_LAST_MSG_ID:
    case JS_ERR.STREAM_MISMATCH:
      return { kind: 'expectation', detail };
    case JS_ERR.MESSAGE_TOO_LARGE:
      return { kind: 'too-large', detail };
  }
  switch (e.code) {
    case 'AUTHORIZATION_VIOLATION':
    case 'PERMISSIONS_VIOLATION':
    case 'AUTHENTICATION_EXPIRED':
    case 'ACCOUNT_EXPIRED':
      return { kind: 'auth', detail };
    case 'MAX_PAYLOAD_EXCEEDED':
      return { kind: 'too-large', detail };
  }
  if (/permissions violation/i.test(detail)) return { kind: 'auth', detail };
  if (/message size exceeds/i.test(detail)) return { kind: 'too-large', detail };
  // TIMEOUT, 503 (no responders: no stream leader yet, or no stream), DISCONNECT, CONNECTION_*:
  // the sink retries, and checks separately whether the stream still exists.
  return { kind: 'transient', detail };
}
