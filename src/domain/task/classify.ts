import type { AttemptResponse } from './task.ts';

export type AttemptOutcome = 'success' | 'retryable' | 'permanent';

/**
 * 2xx is success; a blocked destination is permanent; any other status, a network error or the deadline is a
 * failed attempt worth retrying.
 */
export const classify = (response: AttemptResponse): AttemptOutcome => {
  if (response.status !== null && response.status >= 200 && response.status < 300) return 'success';
  return response.permanent ? 'permanent' : 'retryable';
};

/** Cloud Tasks counts an execution for every response that is not a 5xx. */
export const countsAsExecution = (response: AttemptResponse): boolean =>
  response.status !== null && response.status < 500;
