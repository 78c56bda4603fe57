import { type LookupAddress, type LookupOptions, lookup, type promises } from 'node:dns';
import { isIP } from 'node:net';
import { buildConnector } from 'undici';
import { type AddressPolicy, type AddressVerdict, judgeAddress } from '../../domain/net/address-policy.ts';
import { effectivePort } from '../../domain/net/effective-port.ts';
import {
  addressPolicyFor,
  type BlockedDestination,
  judgeHostName,
  literalAddress,
  type TargetPolicy,
  tenantReason,
} from '../../domain/net/target-policy.ts';

/** Resolves a host name to every address it has. Injectable so that tests can use their own DNS server. */
export type ResolveHost = (hostname: string) => Promise<readonly LookupAddress[]>;

/** The system resolver (getaddrinfo: /etc/hosts, then DNS), as Node itself would connect. */
export const systemResolver: ResolveHost = (hostname) =>
  new Promise((resolve, reject) =>
    lookup(hostname, { all: true, order: 'verbatim' }, (err, addresses) => (err ? reject(err) : resolve(addresses))),
  );

/** A resolver that asks the DNS servers of `resolver` directly (A and AAAA), without the system's caches. */
export const resolverFrom =
  (resolver: promises.Resolver): ResolveHost =>
  async (hostname) => {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)]);
    const found = [
      ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
      ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
    ];
    if (found.length === 0) throw v4.status === 'rejected' ? v4.reason : new Error(`${hostname} has no address`);
    return found;
  };

/**
 * The destination was refused by the SSRF guard; retrying cannot help. The message is the tenant's text (no
 * address); `blocked` holds the full detail for the operator's log.
 */
export class BlockedDestinationError extends Error {
  readonly code = 'ERR_BLOCKED_DESTINATION';
  readonly blocked: BlockedDestination;
  constructor(blocked: BlockedDestination) {
    super(tenantReason(blocked));
    this.name = 'BlockedDestinationError';
    this.blocked = blocked;
  }
}

const refusal = (
  host: string,
  judged: BlockedDestination['judged'],
  address: string,
  verdict: Exclude<AddressVerdict, { allowed: true }>,
): BlockedDestinationError =>
  new BlockedDestinationError({ host, judged, address, reason: verdict.reason, range: verdict.range });

type LookupCallback = (err: Error | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net/tls.connect that resolves, judges every address, and hands back only the allowed ones, so
 * the socket connects to an address that was checked (no second resolution, no DNS-rebinding window). Fails
 * closed: when nothing is allowed, or the check itself fails, the connection fails.
 */
const guardedLookup =
  (resolve: ResolveHost, policy: AddressPolicy) =>
  (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    const byName = judgeHostName(hostname);
    if (!byName.allowed) {
      process.nextTick(callback, refusal(hostname, 'name', hostname, byName), []);
      return;
    }
    const family = options.family === 4 || options.family === 6 ? options.family : 0;
    resolve(hostname)
      .then((all) => {
        const wanted = all.filter((a) => family === 0 || a.family === family);
        const verdicts = wanted.map((a) => ({ a, verdict: judgeAddress(a.address, policy) }));
        const allowed = verdicts.filter((v) => v.verdict.allowed).map((v) => v.a);
        if (allowed.length > 0) return allowed;
        const refused = verdicts.find((v) => !v.verdict.allowed);
        throw refused && !refused.verdict.allowed
          ? refusal(hostname, 'resolved', refused.a.address, refused.verdict)
          : Object.assign(new Error(`${hostname} has no ${family ? `IPv${family} ` : ''}address`), {
              code: 'ENOTFOUND',
            });
      })
      .then(
        (allowed) => {
          const first = allowed[0] as LookupAddress;
          if (options.all) callback(null, allowed);
          else callback(null, first.address, first.family);
        },
        // any failure, of the resolver or of the check itself, fails the connection (fail closed)
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), []),
      );
  };

export type GuardedConnectorOptions = Readonly<{
  policy: TargetPolicy;
  resolve: ResolveHost;
  /** Connect timeout in ms (undici's default is 10 s). */
  timeoutMs: number;
}>;

/**
 * undici's connector behind the SSRF guard. IP literals are judged here, since net.connect skips `lookup` for
 * them (nodejs/undici#2019); host names are judged address by address in `lookup`. A host allowlisted by name
 * (or host:port) gets a lookup that allows private addresses; cloud metadata stays blocked for every target.
 */
export const guardedConnector = ({ policy, resolve, timeoutMs }: GuardedConnectorOptions): buildConnector.connector => {
  const strict = buildConnector({
    timeout: timeoutMs,
    lookup: guardedLookup(resolve, { allowPrivate: policy.allowPrivate, allowlist: policy.allowlist.ranges }),
  });
  const trusted = buildConnector({
    timeout: timeoutMs,
    lookup: guardedLookup(resolve, { allowPrivate: true, allowlist: policy.allowlist.ranges }),
  });
  return (options, callback) => {
    const addressPolicy = addressPolicyFor(options.hostname, effectivePort(options), policy);
    const literal = literalAddress(options.hostname) ?? (isIP(options.hostname) ? options.hostname : null);
    if (literal !== null) {
      const verdict = judgeAddress(literal, addressPolicy);
      if (!verdict.allowed) {
        process.nextTick(callback, refusal(options.hostname, 'literal', literal, verdict), null);
        return;
      }
    }
    return (addressPolicy.allowPrivate ? trusted : strict)(options, callback);
  };
};
