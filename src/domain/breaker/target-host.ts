import { effectivePort } from '../net/effective-port.ts';
import type { AttemptResponse } from '../task/task.ts';
import type { HostOutcome } from './host-breaker.ts';

/** The breaker a task's URL answers to: `host:port`, the port written out (`http://a` and `http://a:80` share one). */
export const targetHost = (url: string): string => {
  const u = new URL(url);
  return `${u.hostname}:${effectivePort(u)}`;
};

/**
 * What an attempt says about its host. Network errors, a missed deadline, 5xx and 429 (the host asks for less
 * traffic) count against it; any other answer, 4xx included (the task's fault), shows it alive. A blocked
 * destination (a permanent failure: no call was made) says nothing about the host.
 */
export const hostOutcome = (response: AttemptResponse): HostOutcome => {
  if (response.permanent) return 'ignored';
  const { status } = response;
  if (status === null || status >= 500 || status === 429) return 'failure';
  return 'success';
};
