import { Agent, request } from 'undici';
import type { AttemptResponse, HttpRequestSpec } from '../../domain/task/task.ts';

export type Dispatch = (
  target: HttpRequestSpec,
  extraHeaders: Readonly<Record<string, string>>,
  deadlineMs: number,
  cancel: AbortSignal,
) => Promise<AttemptResponse>;

export type HttpDispatcher = Readonly<{ dispatch: Dispatch; close: () => Promise<void> }>;

/**
 * Makes one attempt: one overall deadline covers connect, headers and body (undici's own per-phase timeouts
 * are off, they would cut long calls at 300 s), redirects are not followed, the response body is drained.
 * Never throws: every outcome is an AttemptResponse for the domain to classify.
 */
export const createHttpDispatcher = (): HttpDispatcher => {
  const agent = new Agent({ headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 10_000, connections: null });
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
      return { status: res.statusCode, latencyMs: latency(), error: ok ? null : `HTTP ${res.statusCode}` };
    } catch (err) {
      let error: string;
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
