import { blockedLiteral, type TargetPolicy } from '../net/target-policy.ts';
import { DEFAULT_QUEUE } from '../queue/queue.ts';
import { HTTP_METHODS, type HttpMethod, type HttpRequestSpec } from './task.ts';

export const MAX_TASK_BYTES = 1024 * 1024;
export const MAX_DELAY_SEC = 30 * 24 * 3600;
export const MAX_URL_LENGTH = 2048;

export type FieldError = Readonly<{ field: string; expected: string }>;
export type EnqueueRequest = Readonly<{
  clientId: string;
  queue: string;
  delaySec: number;
  request: HttpRequestSpec;
}>;
export type Validation<T> = { ok: true; value: T } | { ok: false; errors: FieldError[]; tooLarge: boolean };

export const CLIENT_ID = /^[A-Za-z0-9_-]{3,64}$/;
/** RFC 9110 token characters. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/**
 * RFC 9110 field values: tab, visible ASCII and Latin-1 text. CR, LF, NUL, other control characters (C0,
 * DEL, C1) and characters past U+00FF are refused, as the HTTP client would refuse to send them.
 */
const FORBIDDEN_IN_VALUE = /[^\t\u0020-\u007e\u00a0-\u00ff]/;
/** Computed by the dispatcher, or carrying Cloud Tasks' meaning; a caller must not set them. */
const RESERVED_HEADER =
  /^(host|content-length|transfer-encoding|connection|keep-alive|expect|upgrade|te|trailer|x-cloudtasks-.*)$/i;
const TOP_FIELDS = new Set(['client_id', 'queue', 'delay', 'task']);
const TASK_FIELDS = new Set(['url', 'method', 'headers', 'body']);

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks an enqueue request body as the seed defines it. Every error names the field and what was expected.
 * With `targets`, a URL whose host is an IP literal the SSRF guard would block is refused here already.
 */
export const validateEnqueue = (
  body: unknown,
  knownQueues: readonly string[],
  targets?: TargetPolicy,
): Validation<EnqueueRequest> => {
  const errors: FieldError[] = [];
  const fail = (field: string, expected: string) => errors.push({ field, expected });
  if (!isObject(body)) {
    return { ok: false, errors: [{ field: '(body)', expected: 'a JSON object' }], tooLarge: false };
  }
  for (const key of Object.keys(body)) {
    if (!TOP_FIELDS.has(key)) fail(key, `no such field; expected only ${[...TOP_FIELDS].join(', ')}`);
  }

  const clientId = body.client_id;
  if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) {
    fail('client_id', 'a string of 3-64 characters from A-Z, a-z, 0-9, _ and -');
  }

  const queue = body.queue ?? DEFAULT_QUEUE;
  if (typeof queue !== 'string' || !knownQueues.includes(queue)) {
    fail('queue', `one of ${knownQueues.join(', ')}`);
  }

  const delay = body.delay ?? 0;
  if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_SEC) {
    fail('delay', `whole seconds from 0 to ${MAX_DELAY_SEC} (30 days)`);
  }

  const request = validateTarget(body.task, fail, targets);
  if (errors.length > 0 || request === null) return { ok: false, errors, tooLarge: false };

  if (requestBytes(request) > MAX_TASK_BYTES) {
    return {
      ok: false,
      errors: [{ field: 'task', expected: 'at most 1 MB of url, headers and body' }],
      tooLarge: true,
    };
  }
  return {
    ok: true,
    value: { clientId: clientId as string, queue: queue as string, delaySec: delay as number, request },
  };
};

const validateTarget = (
  task: unknown,
  fail: (field: string, expected: string) => void,
  targets: TargetPolicy | undefined,
): HttpRequestSpec | null => {
  if (!isObject(task)) {
    fail('task', 'an object with url, and optionally method, headers and body');
    return null;
  }
  const before = { failed: false };
  const failHere = (field: string, expected: string) => {
    before.failed = true;
    fail(field, expected);
  };
  for (const key of Object.keys(task)) {
    if (!TASK_FIELDS.has(key)) failHere(`task.${key}`, `no such field; expected only ${[...TASK_FIELDS].join(', ')}`);
  }

  const url = task.url;
  const parsed = typeof url === 'string' ? httpUrl(url) : null;
  if (parsed === null) {
    failHere(
      'task.url',
      `an absolute http:// or https:// URL without credentials, at most ${MAX_URL_LENGTH} characters`,
    );
  } else if (targets) {
    const blocked = blockedTarget(parsed, targets);
    if (blocked) failHere('task.url', `a destination the SSRF guard allows, but ${blocked}`);
  }

  const rawMethod = task.method ?? 'POST';
  const method = typeof rawMethod === 'string' ? rawMethod.toUpperCase() : '';
  if (!(HTTP_METHODS as readonly string[]).includes(method)) {
    failHere('task.method', `one of ${HTTP_METHODS.join(', ')}`);
  }

  // entries, not assignment: `headers['__proto__'] = v` would set the prototype and drop the header
  const headers: [string, string][] = [];
  const rawHeaders = task.headers ?? {};
  if (!isObject(rawHeaders)) {
    failHere('task.headers', 'an object of header name to string value');
  } else {
    for (const [name, value] of Object.entries(rawHeaders)) {
      const field = `task.headers.${name}`;
      if (!HEADER_NAME.test(name)) failHere(field, 'a header name made of RFC 9110 token characters');
      else if (RESERVED_HEADER.test(name)) failHere(field, 'a header the dispatcher does not set itself');
      else if (typeof value !== 'string') failHere(field, 'a string value');
      else if (FORBIDDEN_IN_VALUE.test(value))
        failHere(field, 'a value of tab, printable ASCII or Latin-1 characters (no CR, LF, NUL or other controls)');
      else headers.push([name, value]);
    }
  }

  const body = task.body ?? '';
  if (typeof body !== 'string') failHere('task.body', 'a string (send JSON as a string)');

  if (before.failed) return null;
  return {
    url: url as string,
    method: method as HttpMethod,
    headers: Object.fromEntries(headers),
    body: body as string,
  };
};

/** The parsed URL when `value` is an absolute http(s) URL without credentials, within MAX_URL_LENGTH; else null. */
const httpUrl = (value: string): URL | null => {
  if (value.length > MAX_URL_LENGTH) return null;
  const url = URL.parse(value);
  if (url === null) return null;
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === ''
    ? url
    : null;
};

/**
 * blockedLiteral's answer, remembered per policy and `protocol//host`, on which alone it depends: most enqueues
 * name a target seen moments before, and judging an IP literal (BigInt ranges) costs more than the rest of the
 * validation. At most BLOCKED_CACHE_SIZE targets per policy; a full cache starts over.
 */
const BLOCKED_CACHE_SIZE = 1024;
const blockedCache = new WeakMap<TargetPolicy, Map<string, string | null>>();
const blockedTarget = (url: URL, targets: TargetPolicy): string | null => {
  let cache = blockedCache.get(targets);
  if (cache === undefined) {
    cache = new Map();
    blockedCache.set(targets, cache);
  }
  const key = `${url.protocol}//${url.host}`;
  let blocked = cache.get(key);
  if (blocked === undefined) {
    blocked = blockedLiteral(url, targets);
    if (cache.size >= BLOCKED_CACHE_SIZE) cache.clear();
    cache.set(key, blocked);
  }
  return blocked;
};

const requestBytes = (r: HttpRequestSpec): number =>
  Buffer.byteLength(r.url) +
  Buffer.byteLength(r.body) +
  Object.entries(r.headers).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
