import { describe, expect, test } from 'vitest';
import { parseTargetAllowlist, type TargetPolicy } from '../../../src/domain/net/target-policy.ts';
import { HTTP_METHODS } from '../../../src/domain/task/task.ts';
import { MAX_DELAY_SEC, MAX_TASK_BYTES, MAX_URL_LENGTH, validateEnqueue } from '../../../src/domain/task/validate.ts';

const QUEUES = ['critical', 'default', 'low'] as const;
const URL = 'https://example.com/hooks/task';
const valid = (overrides: Record<string, unknown> = {}, task: Record<string, unknown> = {}) => ({
  client_id: 'my-service',
  task: { url: URL, ...task },
  ...overrides,
});
const withTask = (task: Record<string, unknown>) => ({ client_id: 'my-service', task });
const withHeaders = (headers: Record<string, unknown>) => valid({}, { headers });

/** The fields named by the errors of a rejected body; fails the test if the body was accepted. */
const rejectedFields = (body: unknown): string[] => {
  const result = validateEnqueue(body, QUEUES);
  if (result.ok) throw new Error(`expected a rejection, got ${JSON.stringify(result.value)}`);
  expect(result.tooLarge).toBe(false);
  return result.errors.map((e) => e.field);
};
const accepted = (body: unknown) => {
  const result = validateEnqueue(body, QUEUES);
  if (!result.ok) throw new Error(`expected acceptance, got ${JSON.stringify(result.errors)}`);
  return result.value;
};

describe('a valid body', () => {
  test('gets the defaults: queue default, no delay, POST, no headers, empty body', () => {
    expect(validateEnqueue({ client_id: 'my-service', task: { url: URL } }, QUEUES)).toStrictEqual({
      ok: true,
      value: {
        clientId: 'my-service',
        queue: 'default',
        delaySec: 0,
        request: { url: URL, method: 'POST', headers: {}, body: '' },
      },
    });
  });

  test('keeps every field it was given', () => {
    const body = {
      client_id: 'billing_01',
      queue: 'critical',
      delay: 300,
      task: {
        url: 'http://10.0.0.7:8080/charge?x=1',
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', 'Custom-Header': 'value' },
        body: '{"amount":12}',
      },
    };
    expect(accepted(body)).toStrictEqual({
      clientId: 'billing_01',
      queue: 'critical',
      delaySec: 300,
      request: {
        url: 'http://10.0.0.7:8080/charge?x=1',
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', 'Custom-Header': 'value' },
        body: '{"amount":12}',
      },
    });
  });

  test('reports every error at once, each naming its field and what was expected', () => {
    const result = validateEnqueue({ client_id: 'x', queue: 'urgent', delay: -1, task: { url: 'ftp://x' } }, QUEUES);
    expect(result).toStrictEqual({
      ok: false,
      tooLarge: false,
      errors: [
        { field: 'client_id', expected: 'a string of 3-64 characters from A-Z, a-z, 0-9, _ and -' },
        { field: 'queue', expected: 'one of critical, default, low' },
        { field: 'delay', expected: `whole seconds from 0 to ${MAX_DELAY_SEC} (30 days)` },
        {
          field: 'task.url',
          expected: 'an absolute http:// or https:// URL without credentials, at most 2048 characters',
        },
      ],
    });
  });
});

describe('client_id', () => {
  test.each(['abc', 'a'.repeat(64), 'My_Service-01', '---'])('accepts %j', (clientId) => {
    expect(accepted(valid({ client_id: clientId })).clientId).toBe(clientId);
  });

  test.each([
    ['missing', undefined],
    ['empty', ''],
    ['2 characters', 'ab'],
    ['65 characters', 'a'.repeat(65)],
    ['a space', 'my service'],
    ['a dot', 'my.service'],
    ['a slash', 'team/service'],
    ['a non-ASCII letter', 'dienst-ü'],
    ['a number', 12345],
  ])('rejects %s', (_, clientId) => {
    expect(rejectedFields(valid({ client_id: clientId }))).toStrictEqual(['client_id']);
  });
});

describe('queue', () => {
  test.each(QUEUES)('accepts the configured queue %s', (queue) => {
    expect(accepted(valid({ queue })).queue).toBe(queue);
  });

  test.each([['urgent'], ['Critical'], [''], [3]])('rejects the unknown queue %j', (queue) => {
    expect(rejectedFields(valid({ queue }))).toStrictEqual(['queue']);
  });
});

describe('delay', () => {
  test.each([0, 1, 3_600, MAX_DELAY_SEC])('accepts %i seconds', (delay) => {
    expect(accepted(valid({ delay })).delaySec).toBe(delay);
  });

  test.each([
    ['negative', -1],
    ['fractional', 1.5],
    ['a numeric string', '10'],
    ['a boolean', true],
    ['over 30 days', MAX_DELAY_SEC + 1],
  ])('rejects a %s delay', (_, delay) => {
    expect(rejectedFields(valid({ delay }))).toStrictEqual(['delay']);
  });

  test('30 days is the limit', () => expect(MAX_DELAY_SEC).toBe(2_592_000));
});

describe('task.url', () => {
  test.each([
    'http://example.com',
    'https://example.com:8443/a/b?c=d#e',
    'http://127.0.0.1:9000/hook',
    `https://example.com/${'a'.repeat(MAX_URL_LENGTH - 'https://example.com/'.length)}`,
  ])('accepts %s', (url) => {
    expect(accepted(valid({}, { url })).request.url).toBe(url);
  });

  test.each([
    ['missing', undefined],
    ['not a string', 42],
    ['relative', '/hooks/task'],
    ['without a scheme', 'example.com/hooks'],
    ['ftp', 'ftp://example.com/file'],
    ['file', 'file:///etc/passwd'],
    ['javascript:', 'javascript:alert(1)'],
    ['data:', 'data:text/plain,hi'],
    ['with a user', 'https://user@example.com/'],
    ['with credentials', 'https://user:secret@example.com/'],
    ['with only a password', 'https://:secret@example.com/'],
    ['over 2048 characters', `https://example.com/${'a'.repeat(MAX_URL_LENGTH - 'https://example.com/'.length + 1)}`],
  ])('rejects a URL %s', (_, url) => {
    expect(rejectedFields(valid({}, { url }))).toStrictEqual(['task.url']);
  });
});

describe('task.url with the SSRF guard settings', () => {
  const policy = (allowPrivate: boolean, allowlist = ''): TargetPolicy => ({
    allowPrivate,
    allowlist: parseTargetAllowlist(allowlist),
  });
  const judged = (url: string, targets: TargetPolicy) => {
    const result = validateEnqueue(valid({}, { url }), QUEUES, targets);
    return result.ok ? 'accepted' : result.errors.map((e) => `${e.field}: ${e.expected}`).join('; ');
  };

  test('the same target is judged by each policy afresh, whichever came first', () => {
    const closed = policy(false);
    const open = policy(true);
    for (const targets of [closed, open, closed, open]) {
      expect(judged('http://127.0.0.1:9000/hook', targets)).toBe(
        targets === open
          ? 'accepted'
          : 'task.url: a destination the SSRF guard allows, but 127.0.0.1 is in a private range (loopback); set ALLOW_PRIVATE_URLS or TARGET_ALLOWLIST to allow it',
      );
    }
  });

  test('an allowlisted host:port covers that port only, the scheme default included', () => {
    const targets = policy(false, '127.0.0.1:80');
    expect(judged('http://127.0.0.1/a', targets)).toBe('accepted');
    expect(judged('https://127.0.0.1/a', targets)).toContain('private range (loopback)');
    expect(judged('http://127.0.0.1:8080/a', targets)).toContain('private range (loopback)');
    expect(judged('http://127.0.0.1:80/b', targets)).toBe('accepted');
    expect(judged('https://127.0.0.1:80/b', targets)).toBe('accepted');
  });
});

describe('task.method', () => {
  test.each(HTTP_METHODS)('accepts %s', (method) => {
    expect(accepted(valid({}, { method })).request.method).toBe(method);
  });

  test.each([
    ['get', 'GET'],
    ['Patch', 'PATCH'],
    ['delete', 'DELETE'],
  ])('accepts %s and normalises it to %s', (method, normalised) => {
    expect(accepted(valid({}, { method })).request.method).toBe(normalised);
  });

  test.each([['FETCH'], ['CONNECT'], ['TRACE'], [''], [' GET'], [1]])('rejects %j', (method) => {
    expect(rejectedFields(valid({}, { method }))).toStrictEqual(['task.method']);
  });
});

describe('task.headers', () => {
  test('accepts token names with visible values, keeping their case', () => {
    const headers = { Authorization: 'Bearer abc.def', 'X-Trace_Id': '42', "weird!#$%&'*+.^`|~": 'ok', Empty: '' };
    expect(accepted(withHeaders(headers)).request.headers).toStrictEqual(headers);
  });

  test('keeps a header named __proto__ instead of silently dropping it', () => {
    const headers = JSON.parse('{"__proto__":"v","X-A":"1"}') as Record<string, unknown>;
    const kept = accepted(withHeaders(headers)).request.headers;
    expect(Object.entries(kept)).toStrictEqual([
      ['__proto__', 'v'],
      ['X-A', '1'],
    ]);
  });

  test.each([
    ['CR LF', 'a\r\nInjected: 1'],
    ['CR', 'a\rb'],
    ['LF', 'a\nb'],
    ['NUL', 'a\0b'],
    ['SOH', 'a\u0001b'],
    ['ESC', 'a\u001bb'],
    ['DEL', 'a\u007fb'],
    ['a C1 control', 'a\u0085b'],
    ['a character past U+00FF', 'caf\u00e9 \u20ac'],
  ])('rejects a value with %s, naming the header', (_, value) => {
    expect(rejectedFields(withHeaders({ 'X-Custom': value }))).toStrictEqual(['task.headers.X-Custom']);
  });

  test('accepts Latin-1 text in a value', () => {
    expect(accepted(withHeaders({ 'X-Custom': 'caf\u00e9' })).request.headers).toStrictEqual({
      'X-Custom': 'caf\u00e9',
    });
  });

  test('accepts a tab inside a value', () => {
    expect(accepted(withHeaders({ 'X-Custom': 'a\tb' })).request.headers).toStrictEqual({ 'X-Custom': 'a\tb' });
  });

  test.each([['Bad Header'], ['Bad:Header'], ['Bad\r\nHeader'], [''], ['(comment)'], ['Grüße']])(
    'rejects the header name %j',
    (name) => {
      expect(rejectedFields(withHeaders({ [name]: 'v' }))).toStrictEqual([`task.headers.${name}`]);
    },
  );

  test.each([
    ['Host'],
    ['host'],
    ['Content-Length'],
    ['Transfer-Encoding'],
    ['Connection'],
    ['Keep-Alive'],
    ['Expect'],
    ['Upgrade'],
    ['TE'],
    ['Trailer'],
    ['X-CloudTasks-TaskName'],
    ['x-cloudtasks-queuename'],
    ['X-CloudTasks-TaskRetryCount'],
  ])('rejects the reserved header %s', (name) => {
    expect(rejectedFields(withHeaders({ [name]: 'v' }))).toStrictEqual([`task.headers.${name}`]);
  });

  test('accepts headers that only resemble reserved ones', () => {
    const headers = { 'X-Host': 'a', 'Content-Length-Hint': '3', 'X-CloudTasksX': 'b' };
    expect(accepted(withHeaders(headers)).request.headers).toStrictEqual(headers);
  });

  test.each([[5], [null], [['a']], [{ v: 'a' }]])('rejects the non-string value %j', (value) => {
    expect(rejectedFields(withHeaders({ 'X-Custom': value }))).toStrictEqual(['task.headers.X-Custom']);
  });

  test.each([[['X-A: 1']], ['X-A: 1'], [7]])('rejects headers given as %j', (headers) => {
    expect(rejectedFields(valid({}, { headers }))).toStrictEqual(['task.headers']);
  });

  test('names every bad header, not only the first', () => {
    expect(rejectedFields(withHeaders({ Host: 'h', ok: 'fine', 'X-A': 'a\nb' }))).toStrictEqual([
      'task.headers.Host',
      'task.headers.X-A',
    ]);
  });
});

describe('task.body', () => {
  test('accepts a string, kept as it is', () => {
    expect(accepted(valid({}, { body: '{"a":1}' })).request.body).toBe('{"a":1}');
  });

  test.each([[5], [{ a: 1 }], [['a']], [true]])('rejects the non-string body %j', (body) => {
    expect(rejectedFields(valid({}, { body }))).toStrictEqual(['task.body']);
  });
});

describe('shape', () => {
  test('rejects unknown top-level fields, naming each', () => {
    expect(rejectedFields(valid({ priority: 'high', name: 'x' }))).toStrictEqual(['priority', 'name']);
  });

  test('rejects unknown task fields, naming each', () => {
    expect(rejectedFields(valid({}, { timeout: 30 }))).toStrictEqual(['task.timeout']);
  });

  test.each([[null], [[]], ['{"client_id":"abc"}'], [42], [undefined]])('rejects the non-object body %j', (body) => {
    const result = validateEnqueue(body, QUEUES);
    expect(result).toStrictEqual({
      ok: false,
      errors: [{ field: '(body)', expected: 'a JSON object' }],
      tooLarge: false,
    });
  });

  test.each([
    ['missing', undefined],
    ['null', null],
    ['a string', URL],
    ['an array', [{ url: URL }]],
  ])('rejects a task that is %s', (_, task) => {
    expect(rejectedFields({ client_id: 'my-service', task })).toStrictEqual(['task']);
  });
});

describe('size', () => {
  const urlBytes = Buffer.byteLength(URL);

  test('accepts a task of exactly 1 MB of url and body', () => {
    const body = 'x'.repeat(MAX_TASK_BYTES - urlBytes);
    expect(accepted(withTask({ url: URL, body })).request.body).toHaveLength(MAX_TASK_BYTES - urlBytes);
  });

  test('rejects a task over 1 MB as too large', () => {
    const body = 'x'.repeat(MAX_TASK_BYTES - urlBytes + 1);
    expect(validateEnqueue(withTask({ url: URL, body }), QUEUES)).toStrictEqual({
      ok: false,
      errors: [{ field: 'task', expected: 'at most 1 MB of url, headers and body' }],
      tooLarge: true,
    });
  });

  test('counts bytes, not characters', () => {
    const body = 'é'.repeat((MAX_TASK_BYTES - urlBytes) / 2 + 1);
    const result = validateEnqueue(withTask({ url: URL, body }), QUEUES);
    expect(result.ok === false && result.tooLarge).toBe(true);
  });

  test('counts header names and values', () => {
    const body = 'x'.repeat(MAX_TASK_BYTES - urlBytes - 'X-Pad'.length);
    expect(validateEnqueue(withTask({ url: URL, body, headers: { 'X-Pad': '' } }), QUEUES).ok).toBe(true);
    const result = validateEnqueue(withTask({ url: URL, body, headers: { 'X-Pad': 'y' } }), QUEUES);
    expect(result.ok === false && result.tooLarge).toBe(true);
  });

  test('1 MB is 1024 × 1024 bytes', () => expect(MAX_TASK_BYTES).toBe(1_048_576));
});
