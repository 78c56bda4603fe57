import { assert, describe, expect, test } from 'vitest';
import { judgeAddress, parseAddress, parseRange } from '../../../src/domain/net/address-policy.ts';

const ranges = (...cidrs: string[]) => cidrs.map((c) => parseRange(c) ?? assert.fail(`bad range ${c}`));

const closed = { allowPrivate: false, allowlist: [] };
const open = { allowPrivate: true, allowlist: [] };

describe('judgeAddress: the SSRF guard decides on the concrete address', () => {
  test.each([
    '8.8.8.8',
    '93.184.216.34',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '172.32.0.1',
    '100.128.0.1',
    '2001:4860:4860::8888',
    '3ffe::1',
    // IPv6 spellings of a public IPv4 address go where that address goes
    '::ffff:8.8.8.8',
    '::ffff:0:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
    '2001:0:4136:e378:8000:63bf:f7f7:f7f7',
  ])('a public address is allowed: %s', (address) => expect(judgeAddress(address, closed)).toEqual({ allowed: true }));

  test.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private (10/8)'],
    ['172.16.0.1', 'private (172.16/12)'],
    ['172.31.255.255', 'private (172.16/12)'],
    ['192.168.1.1', 'private (192.168/16)'],
    ['100.64.0.1', 'carrier-grade NAT (100.64/10)'],
    ['0.0.0.0', 'this network'],
    ['255.255.255.255', 'reserved (240/4, broadcast)'],
    ['224.0.0.1', 'multicast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fd12:3456::1', 'unique local'],
    ['ff02::1', 'multicast'],
    // IPv6 forms that carry a private IPv4 address
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::10.0.0.1', 'private (10/8)'],
    ['64:ff9b:1::a00:1', 'private (10/8)'],
    ['2002:c0a8:0101::1', 'private (192.168/16)'],
    // Teredo stores the client's address inverted: f5ff:fffe is 10.0.0.1
    ['2001:0:4136:e378:8000:63bf:f5ff:fffe', 'private (10/8)'],
    // IPv4-translated (SIIT, RFC 2765) carries an IPv4 address too
    ['::ffff:0:7f00:1', 'loopback'],
    ['::ffff:0:10.1.2.3', 'private (10/8)'],
    // everything outside 2000::/3 is not global unicast, and so are some blocks inside it
    ['4000::1', 'not global unicast (outside 2000::/3)'],
    ['1::1', 'not global unicast (outside 2000::/3)'],
    ['e000::1', 'not global unicast (outside 2000::/3)'],
    ['fec0::1', 'site-local'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001:2::1', 'benchmarking'],
    ['2001:10::1', 'ORCHID'],
    ['5f00::1', 'segment routing (SRv6) SIDs'],
  ])('%s is private (%s)', (address, label) => {
    expect(judgeAddress(address, closed)).toEqual({ allowed: false, reason: 'private', range: label });
  });

  test.each([
    ['169.254.169.254', 'AWS, GCP, Azure and OpenStack metadata'],
    ['::ffff:169.254.169.254', 'AWS, GCP, Azure and OpenStack metadata'],
    ['64:ff9b::a9fe:a9fe', 'AWS, GCP, Azure and OpenStack metadata'],
    ['fd00:ec2::254', 'AWS metadata over IPv6'],
    ['100.100.100.200', 'Alibaba Cloud metadata'],
    ['168.63.129.16', 'Azure WireServer'],
    ['169.254.170.23', 'AWS EKS Pod Identity'],
    ['fd00:ec2::23', 'AWS EKS Pod Identity over IPv6'],
    ['fd20:ce::254', 'GCP metadata over IPv6'],
    ['fe80::a9fe:a9fe', 'OpenStack metadata over IPv6'],
    // the whole ranges, in every IPv6 spelling of the IPv4 one
    ['169.254.1.1', 'link-local 169.254/16, home of cloud metadata services'],
    ['::ffff:169.254.1.1', 'link-local 169.254/16, home of cloud metadata services'],
    ['::ffff:0:a9fe:a9fe', 'AWS, GCP, Azure and OpenStack metadata'],
    ['::169.254.1.1', 'link-local 169.254/16, home of cloud metadata services'],
    ['64:ff9b::a9fe:101', 'link-local 169.254/16, home of cloud metadata services'],
    ['64:ff9b:1::a9fe:101', 'link-local 169.254/16, home of cloud metadata services'],
    ['2002:a9fe:101::1', 'link-local 169.254/16, home of cloud metadata services'],
    ['2001:0:4136:e378:8000:63bf:5601:fefe', 'link-local 169.254/16, home of cloud metadata services'],
    ['fe80::1', 'link-local fe80::/10, home of cloud metadata services'],
    ['febf:ffff::1', 'link-local fe80::/10, home of cloud metadata services'],
    ['fd00:ec2::1', 'AWS fd00:ec2::/32, home of its metadata services'],
  ])('%s is blocked whatever ALLOW_PRIVATE_URLS and TARGET_ALLOWLIST say (%s)', (address, label) => {
    const refused = { allowed: false, reason: 'metadata', range: label };
    expect(judgeAddress(address, closed)).toEqual(refused);
    expect(judgeAddress(address, open)).toEqual(refused);
    const everything = ranges('0.0.0.0/0', '::/0', '169.254.0.0/16', 'fe80::/10', 'fd00::/8', '::ffff:0:0/96');
    expect(judgeAddress(address, { allowPrivate: true, allowlist: everything })).toEqual(refused);
  });

  test('ALLOW_PRIVATE_URLS opens the private ranges', () => {
    expect(judgeAddress('127.0.0.1', open)).toEqual({ allowed: true });
    expect(judgeAddress('::ffff:10.0.0.1', open)).toEqual({ allowed: true });
    expect(judgeAddress('fd12:3456::1', open)).toEqual({ allowed: true });
    expect(judgeAddress('4000::1', open)).toEqual({ allowed: true });
  });

  test('TARGET_ALLOWLIST opens its ranges only, in both spellings of an address', () => {
    const policy = { allowPrivate: false, allowlist: ranges('10.1.2.0/24', '::1') };
    expect(judgeAddress('10.1.2.77', policy)).toEqual({ allowed: true });
    expect(judgeAddress('::ffff:10.1.2.77', policy)).toEqual({ allowed: true });
    expect(judgeAddress('::1', policy)).toEqual({ allowed: true });
    expect(judgeAddress('10.1.3.1', policy)).toMatchObject({ allowed: false, reason: 'private' });
    expect(judgeAddress('127.0.0.1', policy)).toMatchObject({ allowed: false, reason: 'private' });
  });

  test.each([
    'localhost',
    '127.1',
    '0x7f.0.0.1',
    '2130706433',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    ':::1',
    '1::2::3',
    '',
  ])('what is not a canonical address is refused, never guessed: %j', (address) =>
    expect(judgeAddress(address, open)).toMatchObject({ allowed: false, reason: 'invalid' }),
  );
});

describe('parseAddress and parseRange', () => {
  test('IPv6 with a compressed run, brackets, a zone or an embedded IPv4 address', () => {
    expect(parseAddress('[2001:db8::1]')).toEqual({ version: 6, value: 0x20010db8000000000000000000000001n });
    expect(parseAddress('fe80::1%eth0')).toEqual({ version: 6, value: 0xfe800000000000000000000000000001n });
    expect(parseAddress('::ffff:1.2.3.4')).toEqual(parseAddress('::ffff:102:304'));
    expect(parseAddress('1:2:3:4:5:6:7:8')).toEqual({ version: 6, value: 0x00010002000300040005000600070008n });
    expect(parseAddress('1:2:3:4:5:6:7')).toBeNull();
  });

  test('a range is a CIDR block or a single address; anything else is not a range', () => {
    expect(parseRange('10.1.2.0/24')).toMatchObject({ version: 4, base: 0x0a010200n, bits: 24 });
    expect(parseRange('fd00::/8')).toMatchObject({ version: 6, bits: 8 });
    expect(parseRange('10.0.0.5')).toMatchObject({ version: 4, bits: 32 });
    for (const bad of ['example.com', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/x', '/8']) {
      expect(parseRange(bad), bad).toBeNull();
    }
  });
});
