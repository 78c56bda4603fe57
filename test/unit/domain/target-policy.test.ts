import { describe, expect, test } from 'vitest';
import { judgeAddress } from '../../../src/domain/net/address-policy.ts';
import {
  addressPolicyFor,
  type BlockedDestination,
  blockedLiteral,
  judgeHostName,
  parseTargetAllowlist,
  type TargetAllowlist,
  type TargetPolicy,
  tenantReason,
} from '../../../src/domain/net/target-policy.ts';
import { validateEnqueue } from '../../../src/domain/task/validate.ts';

const EMPTY_ALLOWLIST: TargetAllowlist = { ranges: [], hosts: new Set(), hostPorts: new Set() };
const closed: TargetPolicy = { allowPrivate: false, allowlist: EMPTY_ALLOWLIST };
const open: TargetPolicy = { allowPrivate: true, allowlist: EMPTY_ALLOWLIST };
const withAllowlist = (spec: string): TargetPolicy => ({ allowPrivate: false, allowlist: parseTargetAllowlist(spec) });

describe('parseTargetAllowlist: TARGET_ALLOWLIST', () => {
  test('reads host names, host:port pairs, addresses and CIDR ranges, comma-separated', () => {
    const list = parseTargetAllowlist(
      ' Hooks.Internal , billing.svc:8443,10.1.2.0/24, 10.0.0.5:80, [fd00::5]:8080, fd00::/8,192.168.1.9,,',
    );
    expect([...list.hosts]).toEqual(['hooks.internal']);
    expect([...list.hostPorts]).toEqual(['billing.svc:8443', '10.0.0.5:80', '[fd00:0:0:0:0:0:0:5]:8080']);
    expect(list.ranges.map((r) => r.label)).toEqual([
      'allowlisted 10.1.2.0/24',
      'allowlisted fd00::/8',
      'allowlisted 192.168.1.9',
    ]);
  });

  test('an empty value allows nothing extra', () => expect(parseTargetAllowlist('')).toEqual(EMPTY_ALLOWLIST));

  test.each([
    'http://hooks.internal',
    'hooks.internal:0',
    'hooks.internal:65536',
    'hooks.internal:',
    '10.0.0.0/33',
    'under_score.internal',
    '-bad.internal',
    'a..b',
    '[hooks.internal]:80',
    '*.internal',
  ])('a bad entry is refused, naming itself and what is expected: %j', (entry) =>
    expect(() => parseTargetAllowlist(`hooks.internal,${entry}`)).toThrow(
      `TARGET_ALLOWLIST: "${entry}" is not a host name, host:port pair, IP address or CIDR range ` +
        '(e.g. hooks.internal, hooks.internal:8443, 10.1.2.0/24)',
    ),
  );
});

describe('addressPolicyFor: which addresses one target may reach', () => {
  test('an allowlisted host name may reach private addresses on any port, as written only', () => {
    const policy = withAllowlist('hooks.internal');
    expect(addressPolicyFor('hooks.internal', 8080, policy).allowPrivate).toBe(true);
    expect(addressPolicyFor('HOOKS.internal', 80, policy).allowPrivate).toBe(true);
    expect(addressPolicyFor('evil.hooks.internal', 80, policy).allowPrivate).toBe(false);
    expect(addressPolicyFor('other.internal', 80, policy).allowPrivate).toBe(false);
  });

  test('a host:port pair opens that port only, for names and for IP literals in any spelling', () => {
    const policy = withAllowlist('billing.svc:8443,127.0.0.1:9000,[::1]:9000');
    expect(addressPolicyFor('billing.svc', 8443, policy).allowPrivate).toBe(true);
    expect(addressPolicyFor('billing.svc', 443, policy).allowPrivate).toBe(false);
    expect(addressPolicyFor('127.0.0.1', 9000, policy).allowPrivate).toBe(true);
    expect(addressPolicyFor('127.0.0.1', 9001, policy).allowPrivate).toBe(false);
    expect(addressPolicyFor('[0:0:0:0:0:0:0:1]', 9000, policy).allowPrivate).toBe(true);
  });

  test('even an allowlisted target never reaches cloud metadata or the ranges it lives in', () => {
    const policy = withAllowlist('hooks.internal,169.254.0.0/16,fe80::/10,fd00::/8');
    for (const address of ['169.254.169.254', '169.254.170.23', 'fe80::a9fe:a9fe', 'fd00:ec2::23', 'fd20:ce::254']) {
      expect(judgeAddress(address, addressPolicyFor('hooks.internal', 80, policy)), address).toMatchObject({
        allowed: false,
        reason: 'metadata',
      });
    }
  });

  test('metadata host names are blocked by name', () => {
    expect(judgeHostName('metadata.google.internal')).toMatchObject({ allowed: false, reason: 'metadata' });
    expect(judgeHostName('Metadata.Google.Internal.')).toMatchObject({ allowed: false, reason: 'metadata' });
    expect(judgeHostName('example.com')).toEqual({ allowed: true });
  });
});

describe('blockedLiteral: the enqueue-time check of IP-literal URLs', () => {
  // WHATWG URL parsing turns every IPv4 spelling into dotted decimal and compresses IPv6
  test.each([
    ['http://127.0.0.1/', '127.0.0.1 is in a private range (loopback)'],
    ['http://[::1]:8080/', '::1 is in a private range (loopback)'],
    ['http://0.0.0.0/', '0.0.0.0 is in a private range (this network)'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1 is in a private range (loopback)'],
    ['http://[::ffff:7f00:1]/', '::ffff:7f00:1 is in a private range (loopback)'],
    ['http://2130706433/', '127.0.0.1 is in a private range (loopback)'],
    ['http://0x7f.1/', '127.0.0.1 is in a private range (loopback)'],
    ['http://0177.0.0.1/', '127.0.0.1 is in a private range (loopback)'],
    ['http://127.1/', '127.0.0.1 is in a private range (loopback)'],
    ['http://10.0.0.1/', '10.0.0.1 is in a private range (private (10/8))'],
    ['http://100.64.0.1/', '100.64.0.1 is in a private range (carrier-grade NAT (100.64/10))'],
    ['https://169.254.169.254/latest/meta-data/', '169.254.169.254 is in a cloud metadata range'],
    ['http://[fd00:ec2::254]/', 'fd00:ec2::254 is in a cloud metadata range'],
    ['http://[64:ff9b::a9fe:a9fe]/', '64:ff9b::a9fe:a9fe is in a cloud metadata range'],
    ['http://[2002:a9fe:a9fe::]/', '2002:a9fe:a9fe:: is in a cloud metadata range'],
    ['http://[fe80::a9fe:a9fe]/', 'fe80::a9fe:a9fe is in a cloud metadata range (OpenStack metadata over IPv6)'],
    ['http://[::ffff:0:7f00:1]/', '::ffff:0:7f00:1 is in a private range (loopback)'],
    ['http://[4000::1]/', '4000::1 is in a private range (not global unicast (outside 2000::/3))'],
  ])('%s is refused: %s', (url, reason) => expect(blockedLiteral(new URL(url), closed)).toContain(reason));

  test('a private literal says how to allow it; a metadata one says it cannot be', () => {
    expect(blockedLiteral(new URL('http://127.0.0.1/'), closed)).toBe(
      '127.0.0.1 is in a private range (loopback); set ALLOW_PRIVATE_URLS or TARGET_ALLOWLIST to allow it',
    );
    expect(blockedLiteral(new URL('http://169.254.169.254/'), open)).toBe(
      '169.254.169.254 is in a cloud metadata range (AWS, GCP, Azure and OpenStack metadata), blocked whatever the settings',
    );
  });

  test('host names are not judged at enqueue (the dispatcher resolves and checks them at connect time)', () => {
    for (const url of ['http://localhost/', 'http://metadata.google.internal/', 'https://example.com/']) {
      expect(blockedLiteral(new URL(url), closed), url).toBeNull();
    }
  });

  test('public literals pass; ALLOW_PRIVATE_URLS and the allowlist open private ones', () => {
    expect(blockedLiteral(new URL('http://93.184.216.34/'), closed)).toBeNull();
    expect(blockedLiteral(new URL('http://[2606:4700:4700::1111]/'), closed)).toBeNull();
    expect(blockedLiteral(new URL('http://127.0.0.1:9000/'), open)).toBeNull();
    expect(blockedLiteral(new URL('http://127.0.0.1:9000/'), withAllowlist('127.0.0.1:9000'))).toBeNull();
    expect(blockedLiteral(new URL('http://127.0.0.1:9001/'), withAllowlist('127.0.0.1:9000'))).not.toBeNull();
    expect(blockedLiteral(new URL('http://10.1.2.3/'), withAllowlist('10.1.2.0/24'))).toBeNull();
  });
});

describe('tenantReason: what the tenant reads of a refusal at connect time', () => {
  const blocked = (b: Partial<BlockedDestination>): BlockedDestination => ({
    host: 'hooks.example',
    judged: 'resolved',
    address: '10.3.4.5',
    reason: 'private',
    range: 'private (10/8)',
    ...b,
  });

  test('a name that resolves to a private address: the kind of range and how to allow it, not the address', () => {
    const text = tenantReason(blocked({}));
    expect(text).toBe(
      'blocked destination: the target resolves to a private address (private (10/8)); ' +
        'an operator can allow it with ALLOW_PRIVATE_URLS or TARGET_ALLOWLIST',
    );
    expect(text).not.toContain('10.3.4.5');
  });

  test('a metadata range says no setting helps; a literal "is", a name "resolves to"', () => {
    const metadata = { reason: 'metadata', range: 'GCP metadata over IPv6', address: 'fd20:ce::254' } as const;
    expect(tenantReason(blocked(metadata))).toBe(
      'blocked destination: the target resolves to an address in a cloud metadata range (GCP metadata over IPv6), ' +
        'blocked whatever the settings',
    );
    expect(tenantReason(blocked({ ...metadata, judged: 'literal', host: '[fd20:ce::254]' }))).toMatch(
      /^blocked destination: the target is an address in a cloud metadata range/,
    );
    expect(
      tenantReason(blocked({ judged: 'name', host: 'metadata.google.internal', address: 'metadata.google.internal' })),
    ).toBe('blocked destination: the target is a cloud metadata host name, blocked whatever the settings');
  });

  test('an unreadable address is not echoed either', () => {
    const text = tenantReason(blocked({ reason: 'invalid', address: 'garbage%1', range: 'garbage%1' }));
    expect(text).toBe('blocked destination: the target resolves to an address the guard cannot read');
  });
});

describe('validateEnqueue with the SSRF policy', () => {
  const body = (url: string) => ({ client_id: 'my-service', task: { url } });

  test('a blocked IP literal fails task.url with the reason', () => {
    const result = validateEnqueue(body('http://127.0.0.1:8080/x'), ['default'], closed);
    expect(result).toEqual({
      ok: false,
      tooLarge: false,
      errors: [
        {
          field: 'task.url',
          expected:
            'a destination the SSRF guard allows, but 127.0.0.1 is in a private range (loopback); ' +
            'set ALLOW_PRIVATE_URLS or TARGET_ALLOWLIST to allow it',
        },
      ],
    });
  });

  test('a host name, or a private literal when private URLs are allowed, is accepted', () => {
    expect(validateEnqueue(body('http://localhost:8080/x'), ['default'], closed).ok).toBe(true);
    expect(validateEnqueue(body('http://127.0.0.1:8080/x'), ['default'], open).ok).toBe(true);
  });
});
