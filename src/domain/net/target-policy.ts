import {
  type AddressPolicy,
  type AddressRange,
  type AddressVerdict,
  judgeAddress,
  parseAddress,
  parseRange,
} from './address-policy.ts';
import { effectivePort } from './effective-port.ts';

/**
 * Which targets a task may reach, as the operator set it: ALLOW_PRIVATE_URLS and TARGET_ALLOWLIST. Host
 * entries match the URL's host as written (never what it resolves to, as in smokescreen); ranges match the
 * concrete address the dispatcher connects to. Cloud metadata stays blocked whatever the entries say.
 */
export type TargetAllowlist = Readonly<{
  ranges: readonly AddressRange[];
  /** Lower-case host names, any port. */
  hosts: ReadonlySet<string>;
  /** `host:port` with a lower-case host name or a canonical IP address (`[v6]:port`). */
  hostPorts: ReadonlySet<string>;
}>;

export type TargetPolicy = Readonly<{ allowPrivate: boolean; allowlist: TargetAllowlist }>;

/** Host names that reach a metadata service whatever they resolve to. */
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata.goog', 'metadata']);

const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/** The canonical spelling of an IP address, so that `[::FFFF:7f00:1]:80` and `[::ffff:7f00:1]:80` match. */
const canonicalAddress = (text: string): string | null => {
  const parsed = parseAddress(text);
  if (!parsed) return null;
  return parsed.version === 4
    ? text
    : `[${Array.from({ length: 8 }, (_, i) => ((parsed.value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':')}]`;
};

const hostKey = (host: string): string | null => {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  const address = canonicalAddress(bare);
  if (address) return address;
  return host === bare && HOST_NAME.test(host) ? host.toLowerCase().replace(/\.$/, '') : null;
};

/**
 * Parses TARGET_ALLOWLIST: comma-separated CIDR ranges or addresses (`10.1.2.0/24`, `fd00::/8`, `10.0.0.5`),
 * host names (`hooks.internal`) and `host:port` pairs (`hooks.internal:8443`, `10.0.0.5:80`, `[fd00::5]:80`).
 * Throws naming the first bad entry.
 */
export const parseTargetAllowlist = (spec: string): TargetAllowlist => {
  const ranges: AddressRange[] = [];
  const hosts = new Set<string>();
  const hostPorts = new Set<string>();
  for (const entry of spec
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const asRange = parseRange(entry, `allowlisted ${entry}`);
    if (asRange) {
      ranges.push(asRange);
      continue;
    }
    const withPort = /^(\[[^\]]+\]|[^:[\]/]+):(\d{1,5})$/.exec(entry);
    const port = withPort ? Number(withPort[2]) : null;
    const host = hostKey(withPort ? (withPort[1] as string) : entry);
    // an address without a port was taken as a range above, so a host without a port is a name here
    if (host !== null && port === null) {
      hosts.add(host);
    } else if (host !== null && port !== null && port >= 1 && port <= 65535) {
      hostPorts.add(`${host}:${port}`);
    } else {
      throw new Error(
        `TARGET_ALLOWLIST: "${entry}" is not a host name, host:port pair, IP address or CIDR range ` +
          '(e.g. hooks.internal, hooks.internal:8443, 10.1.2.0/24)',
      );
    }
  }
  return { ranges, hosts, hostPorts };
};

/** A URL host that is an IP literal, without brackets (`[::1]` → `::1`); null for a host name. */
export const literalAddress = (hostname: string): string | null => {
  const bare = hostname.replace(/^\[(.*)\]$/, '$1');
  return parseAddress(bare) ? bare : null;
};

/**
 * The address policy for connections to `hostname:port` (hostname as in a WHATWG URL): an allowlisted host
 * or host:port may reach private addresses; every other target gets the operator's policy.
 */
export const addressPolicyFor = (hostname: string, port: number, policy: TargetPolicy): AddressPolicy => {
  const key = hostKey(hostname);
  const trusted = key !== null && (policy.allowlist.hostPorts.has(`${key}:${port}`) || policy.allowlist.hosts.has(key));
  return { allowPrivate: policy.allowPrivate || trusted, allowlist: policy.allowlist.ranges };
};

/** A host name that names a metadata service is blocked before it is resolved. */
export const judgeHostName = (hostname: string): AddressVerdict =>
  METADATA_HOSTS.has(hostname.toLowerCase().replace(/\.$/, ''))
    ? { allowed: false, reason: 'metadata', range: 'cloud metadata host name' }
    : { allowed: true };

type Refusal = Exclude<AddressVerdict, { allowed: true }>;

/**
 * Why the IP literal `destination` is blocked, naming it: for the enqueue-time 400, where the caller wrote it.
 * At connect time the tenant gets tenantReason instead, which never names the address a host resolved to.
 */
export const blockedReason = (destination: string, verdict: Refusal): string => {
  switch (verdict.reason) {
    case 'metadata':
      return `${destination} is in a cloud metadata range (${verdict.range}), blocked whatever the settings`;
    case 'private':
      return `${destination} is in a private range (${verdict.range}); set ALLOW_PRIVATE_URLS or TARGET_ALLOWLIST to allow it`;
    case 'invalid':
      return `${destination} is not a valid IP address`;
  }
};

/** A refusal at connect time in full, for the operator's log: never shown to the tenant. */
export type BlockedDestination = Readonly<{
  /** The URL's host as written (a name or an IP literal). */
  host: string;
  /** What was judged: the host name itself (before resolving), the IP literal, or an address the name has. */
  judged: 'name' | 'literal' | 'resolved';
  /** The refused address, or the host name when it was refused by name. */
  address: string;
  reason: Refusal['reason'];
  range: string;
}>;

/**
 * What the tenant sees of a refusal at connect time (the attempt's error, the task's failure reason): the kind
 * of range, never the address, so that probing with host names cannot map the internal network.
 */
export const tenantReason = ({ judged, reason, range }: BlockedDestination): string => {
  if (judged === 'name')
    return 'blocked destination: the target is a cloud metadata host name, blocked whatever the settings';
  const target = judged === 'literal' ? 'the target is' : 'the target resolves to';
  switch (reason) {
    case 'metadata':
      return `blocked destination: ${target} an address in a cloud metadata range (${range}), blocked whatever the settings`;
    case 'private':
      return (
        `blocked destination: ${target} a private address (${range}); ` +
        'an operator can allow it with ALLOW_PRIVATE_URLS or TARGET_ALLOWLIST'
      );
    case 'invalid':
      return `blocked destination: ${target} an address the guard cannot read`;
  }
};

/**
 * The enqueue-time check, a courtesy only: host names are not resolved here (the dispatcher's check at connect
 * time is the guard). Returns why a URL whose host is an IP literal is blocked, or null.
 */
export const blockedLiteral = (url: URL, policy: TargetPolicy): string | null => {
  const address = literalAddress(url.hostname);
  if (address === null) return null;
  const verdict = judgeAddress(address, addressPolicyFor(url.hostname, effectivePort(url), policy));
  return verdict.allowed ? null : blockedReason(address, verdict);
};
