import { promises as dns } from 'node:dns';
import { createServer, type Server } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ResolveHost, resolverFrom, systemResolver } from '../../src/adapters/http/guarded-connect.ts';
import type { Recorded } from '../../src/domain/task/events.ts';
import { TERMINAL_STATUSES } from '../../src/domain/task/task.ts';
import { startCanary } from '../support/canary.ts';
import { eventually } from '../support/child-service.ts';
import { startDnsStub } from '../support/dns-stub.ts';
import { answer, startTarget } from '../support/http-target.ts';
import { startService } from '../support/service.ts';

/**
 * T11 of RELIABILITY.md: the SSRF guard with ALLOW_PRIVATE_URLS off, through the whole service. IP literals are
 * refused at enqueue; names are accepted and refused at connect time, as a permanent failure; redirects are
 * not followed; a DNS answer that changes between connections (TTL 0) cannot reach a blocked address. Canary
 * listeners on 127.0.0.2 (and on 127.0.0.1 for localhost) count every connection that gets through: none may.
 * 127.0.0.3 plays a public server: TARGET_ALLOWLIST opens exactly that address.
 */
const RETRY = { maxRetries: 3, minBackoffMs: 100, maxBackoffMs: 200 };

let service: Awaited<ReturnType<typeof startService>>;
let canary: Awaited<ReturnType<typeof startCanary>>;
let localCanary: Awaited<ReturnType<typeof startCanary>>;
let rebindCanary: Awaited<ReturnType<typeof startCanary>>;
let stub: Awaited<ReturnType<typeof startDnsStub>>;
let redirecting: Awaited<ReturnType<typeof startTarget>>;
let publicServer: Server;
const publicHits: string[] = [];
let rebindAnswers = 0;
/** The service's log lines at warn and above, as an operator would read them. */
const warnings: Record<string, unknown>[] = [];
const LOOPBACK_BY_NAME =
  'blocked destination: the target resolves to a private address (loopback); ' +
  'an operator can allow it with ALLOW_PRIVATE_URLS or TARGET_ALLOWLIST';

beforeAll(async () => {
  canary = await startCanary('127.0.0.2');
  localCanary = await startCanary('127.0.0.1');
  rebindCanary = await startCanary('127.0.0.2');
  // the "public" server listens on 127.0.0.3 at the rebinding canary's port: only the address tells them apart
  publicServer = createServer((req, res) => {
    publicHits.push(req.url ?? '');
    res.setHeader('connection', 'close');
    answer(res, 503);
  });
  await new Promise<void>((resolve) => publicServer.listen(rebindCanary.port, '127.0.0.3', resolve));
  stub = await startDnsStub(({ name, type }) => {
    if (name !== 'rebind.test') return null;
    if (type !== 'A') return [];
    rebindAnswers++;
    return rebindAnswers === 1 ? ['127.0.0.3'] : ['127.0.0.2'];
  });
  redirecting = await startTarget((_, res) => {
    res.setHeader('location', `http://127.0.0.2:${canary.port}/stolen`);
    answer(res, 302);
  });
  const resolver = new dns.Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([stub.server]);
  const fromStub = resolverFrom(resolver);
  // names under .test come from the stub; everything else (localhost) from the system, as in production
  const resolveHost: ResolveHost = (host) => (host.endsWith('.test') ? fromStub(host) : systemResolver(host));
  service = await startService({
    retry: RETRY,
    allowPrivateUrls: false,
    targetAllowlist: `127.0.0.3/32,${new URL(redirecting.url).host}`,
    resolveHost,
    log: pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) }),
  });
});

afterAll(async () => {
  await service?.stop();
  await Promise.all([canary, localCanary, rebindCanary, stub, redirecting].map((c) => c?.close()));
  await new Promise<void>((resolve) => publicServer.close(() => resolve()));
});

const enqueue = (url: string) =>
  service.app.inject({ method: 'POST', url: '/v1/enqueue', payload: { client_id: 'ssrf-test', task: { url } } });

const finished = async (url: string): Promise<Recorded[]> => {
  const res = await enqueue(url);
  expect(res.statusCode, res.body).toBe(200);
  const id = res.json().task_id as string;
  const snap = await eventually(
    () => service.store.load(id),
    (s) => s !== null && TERMINAL_STATUSES.has(s.task.status),
  );
  return snap?.events ?? [];
};

const ledgerLength = () => service.redis.xlen(service.keys.events);

describe('IP literals are refused at enqueue with 400 naming task.url', () => {
  test.each([
    ['http://127.0.0.1/', '127.0.0.1 is in a private range (loopback)'],
    ['http://[::1]/', '::1 is in a private range (loopback)'],
    ['http://0.0.0.0/', '0.0.0.0 is in a private range (this network)'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is in a cloud metadata range'],
    ['http://[fd00:ec2::254]/', 'fd00:ec2::254 is in a cloud metadata range'],
    ['http://[fd20:ce::254]/', 'fd20:ce::254 is in a cloud metadata range (GCP metadata over IPv6)'],
    ['http://[fe80::a9fe:a9fe]/', 'fe80::a9fe:a9fe is in a cloud metadata range (OpenStack metadata over IPv6)'],
    ['http://169.254.170.23/', '169.254.170.23 is in a cloud metadata range (AWS EKS Pod Identity)'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1 is in a private range (loopback)'],
    ['http://[::ffff:7f00:1]/', '::ffff:7f00:1 is in a private range (loopback)'],
    ['http://[64:ff9b::a9fe:a9fe]/', '64:ff9b::a9fe:a9fe is in a cloud metadata range'],
    ['http://[2002:a9fe:a9fe::]/', '2002:a9fe:a9fe:: is in a cloud metadata range'],
    ['http://[::ffff:0:a9fe:a9fe]/', '::ffff:0:a9fe:a9fe is in a cloud metadata range'],
    ['http://[4000::1]/', '4000::1 is in a private range (not global unicast (outside 2000::/3))'],
    ['http://2130706433/', '127.0.0.1 is in a private range (loopback)'],
    ['http://0x7f.1/', '127.0.0.1 is in a private range (loopback)'],
    ['http://0177.0.0.1/', '127.0.0.1 is in a private range (loopback)'],
    ['http://127.1/', '127.0.0.1 is in a private range (loopback)'],
    ['http://10.0.0.1/', '10.0.0.1 is in a private range (private (10/8))'],
    ['http://100.64.0.1/', '100.64.0.1 is in a private range (carrier-grade NAT (100.64/10))'],
  ])('%s: %s', async (url, reason) => {
    const before = await ledgerLength();
    const res = await enqueue(url);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      error: 'invalid_request',
      errors: [{ field: 'task.url', expected: expect.stringContaining(reason) }],
    });
    expect(res.json().message).toMatch(/^task\.url: expected a destination the SSRF guard allows, but /);
    expect(await ledgerLength()).toBe(before);
  });

  test('in a batch, the blocked literal alone is rejected', async () => {
    const res = await service.app.inject({
      method: 'POST',
      url: '/v1/enqueue:batch',
      payload: {
        tasks: [
          { client_id: 'ssrf-test', task: { url: 'http://169.254.169.254/' } },
          { client_id: 'ssrf-test', task: { url: 'http://rebind-never-resolved.test/' } },
        ],
      },
    });
    expect(res.statusCode).toBe(200);
    const [blocked, accepted] = res.json().results;
    expect(blocked).toMatchObject({ status: 'rejected', errors: [{ field: 'task.url' }] });
    expect(accepted).toMatchObject({ status: 'enqueued' });
  });
});

describe('names are accepted at enqueue and refused at connect time, without retries', () => {
  test.each([
    ['localhost', () => `http://localhost:${localCanary.port}/`, LOOPBACK_BY_NAME],
    [
      'metadata.google.internal',
      () => 'http://metadata.google.internal/computeMetadata/v1/',
      'blocked destination: the target is a cloud metadata host name, blocked whatever the settings',
    ],
  ])('%s: one attempt, then failed with the reason', async (_, url, reason) => {
    const events = await finished(url());
    expect(events.map((e) => e.type)).toEqual(['enqueued', 'leased', 'attempted', 'failed']);
    const [attempted, failed] = events.slice(2);
    expect(attempted?.data).toMatchObject({
      attempt: 1,
      status: null,
      permanent: true,
      error: reason,
    });
    expect(failed?.data).toMatchObject({ attempt: 1, reason });
    expect(localCanary.connections()).toBe(0);
  });

  test('the API shows the kind of range but not the address; the worker logs the address for the operator', async () => {
    const res = await enqueue(`http://localhost:${localCanary.port}/`);
    const id = res.json().task_id as string;
    await eventually(
      () => service.store.load(id),
      (s) => s?.task.status === 'failed',
    );
    const history = await service.app.inject({ method: 'GET', url: `/v1/tasks/${id}/history` });
    const events = history.json().events as { type: string; data: Record<string, unknown> }[];
    expect(events.find((e) => e.type === 'attempted')?.data).toMatchObject({ status: null, permanent: true });
    expect(events.find((e) => e.type === 'failed')?.data.reason).toBe(LOOPBACK_BY_NAME);
    const task = await service.app.inject({ method: 'GET', url: `/v1/tasks/${id}` });
    expect(task.statusCode).toBe(200);
    expect(task.body).toContain('blocked destination: the target resolves to a private address (loopback)');
    for (const body of [history.body, task.body]) expect(body).not.toMatch(/127\.0\.0\.1|::1\b/);
    expect(warnings).toContainEqual(
      expect.objectContaining({
        level: 40,
        component: 'ssrf-guard',
        msg: 'blocked destination',
        host: 'localhost',
        judged: 'resolved',
        address: expect.stringMatching(/^(127\.0\.0\.1|::1)$/),
        reason: 'private',
        range: 'loopback',
      }),
    );
  });
});

test('a 302 from an allowlisted target to 127.0.0.2 is not followed: a failed, retried attempt', async () => {
  const events = await finished(`${redirecting.url}/hook`);
  const attempts = events.filter((e) => e.type === 'attempted').map((e) => e.data);
  expect(attempts).toHaveLength(RETRY.maxRetries + 1);
  for (const a of attempts) expect(a).toMatchObject({ status: 302, error: 'HTTP 302' });
  expect(events.at(-1)).toMatchObject({ type: 'failed', data: { reason: 'attempts exhausted' } });
  expect(redirecting.received).toHaveLength(RETRY.maxRetries + 1);
  expect(canary.connections()).toBe(0);
});

test('DNS rebinding: a public answer, then 127.0.0.2 with TTL 0; the second attempt is refused, not connected', async () => {
  const events = await finished(`http://rebind.test:${rebindCanary.port}/hook`);
  expect(events.map((e) => e.type)).toEqual([
    'enqueued',
    'leased',
    'attempted',
    'retry_scheduled',
    'released',
    'leased',
    'attempted',
    'failed',
  ]);
  const attempts = events.filter((e) => e.type === 'attempted').map((e) => e.data);
  expect(attempts[0]).toMatchObject({ attempt: 1, status: 503 });
  expect(attempts[1]).toMatchObject({ attempt: 2, status: null, permanent: true });
  expect(attempts[1]?.error).toBe(LOOPBACK_BY_NAME);
  expect(publicHits).toEqual(['/hook']);
  expect(rebindAnswers).toBeGreaterThanOrEqual(2);
  expect(rebindCanary.connections()).toBe(0);
  expect(canary.connections()).toBe(0);
});
