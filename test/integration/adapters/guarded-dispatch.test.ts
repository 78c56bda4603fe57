import { promises as dns } from 'node:dns';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { createHttpDispatcher } from '../../../src/adapters/http/dispatcher.ts';
import { resolverFrom } from '../../../src/adapters/http/guarded-connect.ts';
import {
  type BlockedDestination,
  parseTargetAllowlist,
  type TargetAllowlist,
  type TargetPolicy,
} from '../../../src/domain/net/target-policy.ts';
import { startCanary } from '../../support/canary.ts';
import { type DnsQuery, startDnsStub } from '../../support/dns-stub.ts';
import { answer, startTarget } from '../../support/http-target.ts';

/**
 * The SSRF guard where it matters: at connect time, in the real dispatcher, against real sockets. A canary
 * listener on 127.0.0.2 counts every connection that reaches it; a blocked request must never reach it.
 */
const EMPTY_ALLOWLIST: TargetAllowlist = { ranges: [], hosts: new Set(), hostPorts: new Set() };
const closed: TargetPolicy = { allowPrivate: false, allowlist: EMPTY_ALLOWLIST };
const open: TargetPolicy = { allowPrivate: true, allowlist: EMPTY_ALLOWLIST };

let canary: Awaited<ReturnType<typeof startCanary>>;
let dnsAnswers: (q: DnsQuery) => readonly string[] | null = () => null;
let stub: Awaited<ReturnType<typeof startDnsStub>>;
let resolveHost: ReturnType<typeof resolverFrom>;
const closers: (() => Promise<void>)[] = [];
/** What the dispatchers told the operator's log (onBlocked), in order. */
let blockedLog: BlockedDestination[] = [];
const LOOPBACK_BY_NAME =
  'blocked destination: the target resolves to a private address (loopback); ' +
  'an operator can allow it with ALLOW_PRIVATE_URLS or TARGET_ALLOWLIST';
const LOOPBACK_LITERAL = LOOPBACK_BY_NAME.replace('resolves to', 'is');

beforeAll(async () => {
  canary = await startCanary('127.0.0.2');
  stub = await startDnsStub((q) => dnsAnswers(q));
  const resolver = new dns.Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([stub.server]);
  resolveHost = resolverFrom(resolver);
});
afterAll(async () => {
  await canary.close();
  await stub.close();
});
let canaryBefore = 0;
beforeEach(() => {
  canaryBefore = canary.connections();
  blockedLog = [];
});
afterEach(async () => {
  expect(canary.connections() - canaryBefore, 'connections that reached the canary on 127.0.0.2').toBe(0);
  for (const close of closers.splice(0)) await close();
});

const dispatcher = (targets: TargetPolicy) => {
  const http = createHttpDispatcher({ targets, resolveHost, onBlocked: (b) => blockedLog.push(b) });
  closers.push(http.close);
  return http;
};
const get = (http: ReturnType<typeof createHttpDispatcher>, url: string) =>
  http.dispatch({ url, method: 'GET', headers: {}, body: '' }, {}, 5_000, new AbortController().signal);
const target = async (...args: Parameters<typeof startTarget>) => {
  const t = await startTarget(...args);
  closers.push(t.close);
  return t;
};

describe('IP literals are judged before connecting (net.connect skips lookup for them)', () => {
  test.each([
    ['127.0.0.2', 'http://127.0.0.2:PORT/'],
    ['::ffff:7f00:2', 'http://[::ffff:127.0.0.2]:PORT/'],
    ['127.0.0.2', 'http://0x7f.0.0.2:PORT/'],
    ['127.0.0.2', 'http://2130706434:PORT/'],
    ['127.0.0.2', 'http://0177.0.0.2:PORT/'],
  ])('%s (%s) is blocked as a permanent failure', async (address, url) => {
    const res = await get(dispatcher(closed), url.replace('PORT', String(canary.port)));
    expect(res).toEqual({ status: null, latencyMs: expect.any(Number), permanent: true, error: LOOPBACK_LITERAL });
    expect(blockedLog).toEqual([
      { host: expect.any(String), judged: 'literal', address, reason: 'private', range: 'loopback' },
    ]);
  });

  test.each([
    ['http://169.254.169.254/latest/meta-data/', 'AWS, GCP, Azure and OpenStack metadata'],
    ['http://[fd00:ec2::254]/', 'AWS metadata over IPv6'],
    ['http://[::ffff:a9fe:a9fe]/', 'AWS, GCP, Azure and OpenStack metadata'],
    ['http://[::ffff:0:a9fe:a9fe]/', 'AWS, GCP, Azure and OpenStack metadata'],
    ['http://[fe80::a9fe:a9fe]/', 'OpenStack metadata over IPv6'],
    ['http://169.254.170.23/', 'AWS EKS Pod Identity'],
    ['http://[fd00:ec2::23]/', 'AWS EKS Pod Identity over IPv6'],
    ['http://[fd20:ce::254]/', 'GCP metadata over IPv6'],
    ['http://169.254.1.1/', 'link-local 169.254/16, home of cloud metadata services'],
  ])('cloud metadata is blocked even with ALLOW_PRIVATE_URLS and an allowlist for it: %s', async (url, range) => {
    const allowlist = parseTargetAllowlist(`169.254.0.0/16,fe80::/10,fd00::/8,${new URL(url).host}`);
    for (const policy of [open, { allowPrivate: true, allowlist }]) {
      const res = await get(dispatcher(policy), url);
      expect(res, url).toMatchObject({ status: null, permanent: true });
      expect(res.error, url).toBe(
        `blocked destination: the target is an address in a cloud metadata range (${range}), blocked whatever the settings`,
      );
    }
  });

  test('with ALLOW_PRIVATE_URLS a private literal is delivered', async () => {
    const t = await target((_, res) => answer(res, 204));
    expect(await get(dispatcher(open), `${t.url}/ok`)).toMatchObject({ status: 204, error: null });
    expect(t.received).toHaveLength(1);
  });
});

describe('host names are resolved, every address is judged, and only a checked one is connected to', () => {
  test('localhost (system resolver) is blocked and nothing reaches the listener', async () => {
    const local = await startCanary('127.0.0.1');
    closers.push(local.close);
    const http = createHttpDispatcher({ targets: closed });
    closers.push(http.close);
    const res = await get(http, `http://localhost:${local.port}/`);
    expect(res).toMatchObject({ status: null, permanent: true, error: LOOPBACK_BY_NAME });
    expect(local.connections()).toBe(0);
  });

  test('a metadata host name is blocked by name, without asking DNS', async () => {
    const before = stub.queries.length;
    const res = await get(dispatcher(open), 'http://metadata.google.internal/computeMetadata/v1/');
    expect(res).toMatchObject({
      status: null,
      permanent: true,
      error: 'blocked destination: the target is a cloud metadata host name, blocked whatever the settings',
    });
    expect(stub.queries.length).toBe(before);
    expect(blockedLog).toEqual([
      {
        host: 'metadata.google.internal',
        judged: 'name',
        address: 'metadata.google.internal',
        reason: 'metadata',
        range: 'cloud metadata host name',
      },
    ]);
  });

  test('a name that resolves to the canary is blocked; the tenant is not told the address, the operator is', async () => {
    dnsAnswers = (q) => (q.name === 'canary.test' ? ['127.0.0.2'] : null);
    const res = await get(dispatcher(closed), `http://canary.test:${canary.port}/`);
    expect(res).toMatchObject({ status: null, permanent: true, error: LOOPBACK_BY_NAME });
    expect(res.error).not.toContain('127.0.0.2');
    expect(blockedLog).toEqual([
      { host: 'canary.test', judged: 'resolved', address: '127.0.0.2', reason: 'private', range: 'loopback' },
    ]);
  });

  test.each([
    ['fe80::a9fe:a9fe', 'OpenStack metadata over IPv6'],
    ['fd00:ec2::23', 'AWS EKS Pod Identity over IPv6'],
    ['fd20:ce::254', 'GCP metadata over IPv6'],
  ])(
    'a name with only the IPv6 metadata address %s is blocked even with ALLOW_PRIVATE_URLS',
    async (address, range) => {
      dnsAnswers = (q) => (q.name === 'meta6.test' ? [address] : null);
      const res = await get(dispatcher(open), 'http://meta6.test/');
      expect(res).toMatchObject({
        status: null,
        permanent: true,
        error: `blocked destination: the target resolves to an address in a cloud metadata range (${range}), blocked whatever the settings`,
      });
      expect(blockedLog).toEqual([{ host: 'meta6.test', judged: 'resolved', address, reason: 'metadata', range }]);
    },
  );

  test('in strict mode a name with only a non-global IPv6 address is blocked', async () => {
    dnsAnswers = (q) => (q.name === 'reserved6.test' ? ['4000::1'] : null);
    const res = await get(dispatcher(closed), 'http://reserved6.test/');
    expect(res).toMatchObject({
      status: null,
      permanent: true,
      error:
        'blocked destination: the target resolves to a private address (not global unicast (outside 2000::/3)); ' +
        'an operator can allow it with ALLOW_PRIVATE_URLS or TARGET_ALLOWLIST',
    });
  });

  test('https goes through the same check (tls.connect passes lookup on)', async () => {
    dnsAnswers = (q) => (q.name === 'canary.test' ? ['127.0.0.2'] : null);
    for (const url of [`https://canary.test:${canary.port}/`, `https://127.0.0.2:${canary.port}/`]) {
      const res = await get(dispatcher(closed), url);
      expect(res, url).toMatchObject({ status: null, permanent: true });
      expect(res.error, url).toBe(url.includes('canary.test') ? LOOPBACK_BY_NAME : LOOPBACK_LITERAL);
    }
  });

  test('a name that does not resolve is an ordinary, retryable failure', async () => {
    dnsAnswers = () => null;
    const res = await get(dispatcher(closed), 'http://nowhere.test/');
    expect(res.status).toBeNull();
    expect(res.permanent).toBeUndefined();
    expect(res.error).toMatch(/ENOTFOUND/);
  });

  test('of a name with an allowed and a blocked address, only the allowed one is connected to', async () => {
    // 127.0.0.1 plays a public address here: the allowlist opens it, the canary's 127.0.0.2 stays blocked
    const { port, target: t, canary: sameport } = await targetAndCanaryOnOnePort();
    dnsAnswers = (q) => (q.name === 'mixed.test' && q.type === 'A' ? ['127.0.0.2', '127.0.0.1'] : []);
    const http = dispatcher({ allowPrivate: false, allowlist: parseTargetAllowlist('127.0.0.1/32') });
    for (let i = 0; i < 3; i++) expect(await get(http, `http://mixed.test:${port}/`)).toMatchObject({ status: 200 });
    expect(t.received).toHaveLength(3);
    expect(sameport.connections()).toBe(0);
  });

  test('DNS rebinding: public first, then 127.0.0.2 with TTL 0; the second connection is refused', async () => {
    const { port, target: t, canary: sameport } = await targetAndCanaryOnOnePort();
    let answered = 0;
    dnsAnswers = (q) => {
      if (q.name !== 'rebind.test') return null;
      if (q.type !== 'A') return [];
      answered++;
      return answered === 1 ? ['127.0.0.1'] : ['127.0.0.2'];
    };
    const http = dispatcher({ allowPrivate: false, allowlist: parseTargetAllowlist('127.0.0.1/32') });
    const url = `http://rebind.test:${port}/`;
    expect(await get(http, url)).toMatchObject({ status: 200 });
    const second = await get(http, url);
    expect(second).toMatchObject({ status: null, permanent: true, error: LOOPBACK_BY_NAME });
    expect(blockedLog).toMatchObject([{ host: 'rebind.test', address: '127.0.0.2' }]);
    expect(answered).toBeGreaterThanOrEqual(2);
    expect(t.received).toHaveLength(1);
    expect(sameport.connections()).toBe(0);
  });
});

describe('redirects are not followed', () => {
  test('a 302 to the canary is a failed attempt, even with private addresses allowed', async () => {
    const t = await target((_, res) => {
      res.setHeader('location', `http://127.0.0.2:${canary.port}/`);
      answer(res, 302);
    });
    const res = await get(dispatcher(open), `${t.url}/hook`);
    expect(res).toMatchObject({ status: 302, error: 'HTTP 302' });
    expect(res.permanent).toBeUndefined();
  });

  test('a 302 from an allowlisted host:port is not followed either', async () => {
    const t = await target((_, res) => {
      res.setHeader('location', `http://127.0.0.2:${canary.port}/`);
      answer(res, 302);
    });
    const allowlist = parseTargetAllowlist(new URL(t.url).host);
    expect(await get(dispatcher({ allowPrivate: false, allowlist }), `${t.url}/hook`)).toMatchObject({ status: 302 });
    expect(t.received).toHaveLength(1);
  });
});

describe('Retry-After', () => {
  test('a 429 with delta-seconds and a 503 with an HTTP date carry the wait; a 500 does not', async () => {
    const inTenSeconds = new Date(Math.ceil(Date.now() / 1000) * 1000 + 10_000).toUTCString();
    const t = await target((req, res) => {
      if (req.path === '/429') res.setHeader('retry-after', '7');
      if (req.path === '/503') res.setHeader('retry-after', inTenSeconds);
      if (req.path === '/500') res.setHeader('retry-after', '7');
      answer(res, Number(req.path.slice(1)));
    });
    const http = dispatcher(open);
    expect(await get(http, `${t.url}/429`)).toMatchObject({ status: 429, retryAfterMs: 7_000 });
    const unavailable = await get(http, `${t.url}/503`);
    expect(unavailable.retryAfterMs).toBeGreaterThan(8_000);
    expect(unavailable.retryAfterMs).toBeLessThanOrEqual(11_000);
    expect((await get(http, `${t.url}/500`)).retryAfterMs).toBeUndefined();
  });
});

/**
 * A target on 127.0.0.1 and a canary on 127.0.0.2 at the same port, so that a URL's name decides alone which one
 * a connection reaches. The target closes every connection, so that each request resolves the name anew.
 */
const targetAndCanaryOnOnePort = async () => {
  const { createServer } = await import('node:http');
  const sameport = await startCanary('127.0.0.2', 0);
  closers.push(sameport.close);
  const received: string[] = [];
  const server = createServer((req, res) => {
    received.push(req.url ?? '');
    res.setHeader('connection', 'close');
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(sameport.port, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { port: sameport.port, target: { received }, canary: sameport };
};
