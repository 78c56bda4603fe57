/**
 * Which IP addresses a task may be delivered to (SSRF guard). Pure: the dispatcher resolves names and asks here
 * about every address before it connects to the one it checked; the API asks about IP-literal URLs at enqueue.
 * Ranges follow Stripe's smokescreen and Svix: everything that is not global unicast is private, and an IPv6
 * address that embeds an IPv4 one (mapped, translated, compatible, NAT64, 6to4, Teredo) is judged by the IPv4
 * inside. Cloud metadata ranges are blocked in every spelling whatever the operator allows (Convoy).
 */
export type AddressVerdict =
  | Readonly<{ allowed: true }>
  /** `metadata`: a cloud metadata address or a range they live in, never allowed; `private`: not global unicast. */
  | Readonly<{ allowed: false; reason: 'metadata' | 'private' | 'invalid'; range: string }>;

export type AddressPolicy = Readonly<{
  /** ALLOW_PRIVATE_URLS: private ranges become allowed; cloud metadata ranges never do. */
  allowPrivate: boolean;
  /** TARGET_ALLOWLIST's CIDR ranges (and single addresses): allowed even when private, never metadata. */
  allowlist: readonly AddressRange[];
}>;

type Parsed = Readonly<{ version: 4 | 6; value: bigint }>;
export type AddressRange = Readonly<{ version: 4 | 6; base: bigint; bits: number; label: string }>;

const parseV4 = (text: string): bigint | null => {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return null;
    value = (value << 8n) | BigInt(part);
  }
  return value;
};

const parseV6 = (input: string): bigint | null => {
  let text = input.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = parseV4(dotted[1] as string);
    if (v4 === null) return null;
    text = `${text.slice(0, -(dotted[1] as string).length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string | undefined) => (half ? half.split(':') : []);
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  let value = 0n;
  for (const group of [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail]) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return null;
    value = (value << 16n) | BigInt(`0x${group}`);
  }
  return value;
};

export const parseAddress = (text: string): Parsed | null => {
  const v4 = parseV4(text);
  if (v4 !== null) return { version: 4, value: v4 };
  const v6 = text.includes(':') ? parseV6(text) : null;
  return v6 === null ? null : { version: 6, value: v6 };
};

/** A CIDR range (`10.1.2.0/24`, `fd00::/8`) or a single address; null when it is neither. */
export const parseRange = (cidr: string, label = cidr): AddressRange | null => {
  const parts = cidr.split('/');
  if (parts.length > 2) return null;
  const parsed = parseAddress(parts[0] as string);
  if (!parsed) return null;
  const width = parsed.version === 4 ? 32 : 128;
  const bits = parts[1] === undefined ? width : /^\d{1,3}$/.test(parts[1]) ? Number(parts[1]) : Number.NaN;
  if (!(bits >= 0 && bits <= width)) return null;
  return { version: parsed.version, base: parsed.value, bits, label };
};

const range = (cidr: string, label: string): AddressRange => {
  const parsed = parseRange(cidr, label);
  if (!parsed) throw new Error(`bad range ${cidr}`);
  return parsed;
};

const contains = (r: AddressRange, a: Parsed): boolean => {
  if (r.version !== a.version) return false;
  const shift = BigInt((r.version === 4 ? 32 : 128) - r.bits);
  return a.value >> shift === r.base >> shift;
};

/**
 * Blocked whatever ALLOW_PRIVATE_URLS and TARGET_ALLOWLIST say (Convoy's default): the link-local ranges and
 * AWS's IPv6 block, where cloud metadata and credential services live, plus the named metadata addresses
 * elsewhere. The named ones come first so that a refusal names the service.
 */
const METADATA = [
  range('169.254.169.254/32', 'AWS, GCP, Azure and OpenStack metadata'),
  range('169.254.170.2/32', 'AWS ECS task metadata'),
  range('169.254.170.23/32', 'AWS EKS Pod Identity'),
  range('fd00:ec2::254/128', 'AWS metadata over IPv6'),
  range('fd00:ec2::23/128', 'AWS EKS Pod Identity over IPv6'),
  range('fd20:ce::254/128', 'GCP metadata over IPv6'),
  range('fe80::a9fe:a9fe/128', 'OpenStack metadata over IPv6'),
  range('100.100.100.200/32', 'Alibaba Cloud metadata'),
  range('168.63.129.16/32', 'Azure WireServer'),
  range('192.0.0.192/32', 'Oracle Cloud Classic metadata'),
  range('fd00:42::42/128', 'Scaleway metadata over IPv6'),
  range('169.254.0.0/16', 'link-local 169.254/16, home of cloud metadata services'),
  range('fe80::/10', 'link-local fe80::/10, home of cloud metadata services'),
  range('fd00:ec2::/32', 'AWS fd00:ec2::/32, home of its metadata services'),
];

const PRIVATE_V4 = [
  range('0.0.0.0/8', 'this network'),
  range('10.0.0.0/8', 'private (10/8)'),
  range('100.64.0.0/10', 'carrier-grade NAT (100.64/10)'),
  range('127.0.0.0/8', 'loopback'),
  range('172.16.0.0/12', 'private (172.16/12)'),
  range('192.0.0.0/24', 'IETF protocol assignments'),
  range('192.0.2.0/24', 'documentation'),
  range('192.88.99.0/24', '6to4 relay anycast'),
  range('192.168.0.0/16', 'private (192.168/16)'),
  range('198.18.0.0/15', 'benchmarking'),
  range('198.51.100.0/24', 'documentation'),
  range('203.0.113.0/24', 'documentation'),
  range('224.0.0.0/4', 'multicast'),
  range('240.0.0.0/4', 'reserved (240/4, broadcast)'),
];

/**
 * Non-global IPv6 ranges, named so that a refusal says which. Those inside 2000::/3 are refused only because
 * they are listed here; any other IPv6 address outside 2000::/3 is refused as NOT_GLOBAL.
 */
const PRIVATE_V6 = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('100::/64', 'discard'),
  range('2001:2::/48', 'benchmarking'),
  range('2001:10::/28', 'ORCHID'),
  range('2001:db8::/32', 'documentation'),
  range('3fff::/20', 'documentation'),
  range('5f00::/16', 'segment routing (SRv6) SIDs'),
  range('fc00::/7', 'unique local'),
  range('fec0::/10', 'site-local'),
  range('ff00::/8', 'multicast'),
];

const GLOBAL_UNICAST = range('2000::/3', 'global unicast');
const NOT_GLOBAL = 'not global unicast (outside 2000::/3)';

/** The IPv4 address an IPv6 one carries, by the mechanisms that route to it. */
const embeddedV4 = (a: Parsed): Parsed | null => {
  if (a.version !== 6) return null;
  const v = a.value;
  const low32 = v & 0xffffffffn;
  if (v >> 32n === 0xffffn) return { version: 4, value: low32 }; // ::ffff:a.b.c.d, mapped
  if (v >> 32n === 0xffff0000n) return { version: 4, value: low32 }; // ::ffff:0:a.b.c.d, translated (SIIT)
  if (v >> 32n === 0n && v > 1n) return { version: 4, value: low32 }; // ::a.b.c.d, compatible (deprecated)
  if (v >> 32n === 0x0064ff9b0000000000000000n) return { version: 4, value: low32 }; // 64:ff9b::/96, NAT64
  if (v >> 80n === 0x0064ff9b0001n) return { version: 4, value: low32 }; // 64:ff9b:1::/48, local NAT64
  if (v >> 112n === 0x2002n) return { version: 4, value: (v >> 80n) & 0xffffffffn }; // 2002::/16, 6to4
  if (v >> 96n === 0x20010000n) return { version: 4, value: low32 ^ 0xffffffffn }; // 2001::/32, Teredo client
  return null;
};

/** The label of the non-global range `a` is in, or null for a global unicast address. */
const nonGlobal = (a: Parsed, carried: Parsed | null): string | null => {
  if (a.version === 4) return PRIVATE_V4.find((r) => contains(r, a))?.label ?? null;
  const named = PRIVATE_V6.find((r) => contains(r, a))?.label;
  if (named) return named;
  // an address that carries an IPv4 one (mapped, translated, NAT64...) goes where that one goes
  if (carried) return nonGlobal(carried, null);
  return contains(GLOBAL_UNICAST, a) ? null : NOT_GLOBAL;
};

/** Whether a task may connect to `address` (an IP address as a resolver returns it, or a URL's IP literal). */
export const judgeAddress = (address: string, policy: AddressPolicy): AddressVerdict => {
  const parsed = parseAddress(address);
  if (!parsed) return { allowed: false, reason: 'invalid', range: address };
  const carried = embeddedV4(parsed);
  const candidates = carried ? [parsed, carried] : [parsed];
  for (const a of candidates) {
    const metadata = METADATA.find((r) => contains(r, a));
    if (metadata) return { allowed: false, reason: 'metadata', range: metadata.label };
  }
  if (policy.allowPrivate) return { allowed: true };
  if (policy.allowlist.some((r) => candidates.some((a) => contains(r, a)))) return { allowed: true };
  const hit = nonGlobal(parsed, carried);
  return hit === null ? { allowed: true } : { allowed: false, reason: 'private', range: hit };
};
