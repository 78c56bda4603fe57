import { Agent, request } from 'undici';
import type { BlockedDestination, TargetPolicy } from '../../domain/net/target-policy.ts';
import { retryAfterMs } from '../../domain/retry/retry-after.ts';
import type { AttemptResponse, HttpRequestSpec } from '../../domain/task/task.ts';
import { BlockedDestinationError, guardedConnector, type ResolveHost, systemResolver } from './guarded-connect.ts';

export type Dispatch = (
  target: HttpRequestSpec,
  extraHeaders: Readonly<Record<string, string>>,
  deadlineMs: number,
  cancel: AbortSignal,
) => Promise<AttemptResponse>;

export type HttpDispatcher = Readonly<{ dispatch: Dispatch; close: () => Promise<void> }>;

export type HttpDispatcherOptions = Readonly<{
  /** The SSRF guard's settings (ALLOW_PRIVATE_URLS, TARGET_ALLOWLIST). */
  targets: TargetPolicy;
  /** How target host names are resolved; the system resolver by default. */
  resolveHost?: ResolveHost;
  /** Told the full detail of every refusal (host, address, range) for the operator's log. */
  onBlocked?: (blocked: BlockedDestination) => void;
}>;

/**
 * Makes one attempt: one overall deadline covers connect, headers and body (undici's own per-phase timeouts
 * are off, they would cut long calls at 300 s), redirects are not followed (undici's request() follows none
 * unless a redirect interceptor is composed in, so a 3xx is a failed attempt), the response body is drained.
 * Every connection goes through the SSRF guard (guarded-connect.ts): a blocked destination is a permanent
 * failure whose error names the kind of range but not the address (the tenant reads it); `onBlocked` gets the
 * detail. A 429 or 503 carries the wait its Retry-After asks for. Never throws: every outcome is an
 * AttemptResponse for the domain to classify.
 */
export const createHttpDispatcher = ({
  targets,
  resolveHost = systemResolver,
  onBlocked,
}: HttpDispatcherOptions): HttpDispatcher => {
  const agent = new Agent({
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: 10_000,
    connections: null,
    connect: guardedConnector({ policy: targets, resolve: resolveHost, timeoutMs: 10_000 }),
  });
  const dispatch: Dispatch = async (target, extraHeaders, deadlineMs, cancel) => {
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    // one controller for both the deadline and the caller's cancel: cheaper than AbortSignal.any + timeout
    const abort = new AbortController();
    let deadlineHit = false;
    const timer = setTimeout(() => {
      deadlineHit = true;
      abort.abort(new Error('deadline exceeded'));
    }, deadlineMs);
    const onCancel = () => abort.abort(cancel.reason);
    if (cancel.aborted) onCancel();
    else cancel.addEventListener('abort', onCancel, { once: true });
    try {
      const res = await request(target.url, {
        dispatcher: agent,
        method: target.method,
        headers: { ...target.headers, ...extraHeaders },
        body: target.method === 'GET' || target.method === 'HEAD' ? null : target.body,
        signal: abort.signal,
      });
      await res.body.dump({ limit: 64 * 1024 });
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      const header = res.headers['retry-after'];
      const wait = retryAfterMs(res.statusCode, Array.isArray(header) ? header[0] : header, Date.now());
      return {
        status: res.statusCode,
        latencyMs: latency(),
        error: ok ? null : `HTTP ${res.statusCode}`,
        ...(wait === null ? {} : { retryAfterMs: wait }),
      };
    } catch (err) {
      let error: string;
      const blocked = blockedBy(err);
      if (blocked) {
        onBlocked?.(blocked.blocked);
        return { status: null, latencyMs: latency(), error: blocked.message, permanent: true };
      }
      if (deadlineHit) error = `deadline of ${deadlineMs} ms exceeded`;
      else if (cancel.aborted) error = `cancelled: ${String(cancel.reason ?? 'aborted')}`;
      else {
        const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
        const code = e.code ?? e.cause?.code;
        error = `${code ? `${code}: ` : ''}${e.cause?.message ?? e.message}`;
      }
      return { status: null, latencyMs: latency(), error };
    } finally {
      clearTimeout(timer);
      cancel.removeEventListener('abort', onCancel);
    }
  };
  return { dispatch, close: () => agent.close() };
};

/** The guard's refusal, if that is what failed the request (undici may wrap the connect error). */
const blockedBy = (err: unknown): BlockedDestinationError | null => {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof BlockedDestinationError) return e;
    if (e instanceof AggregateError) {
      const inner = e.errors.find((x) => x instanceof BlockedDestinationError);
      if (inner) return inner as BlockedDestinationError;
    }
  }
  return null;
};
