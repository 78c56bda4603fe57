/** What a client's tier allows: enqueued tasks per sliding minute, and dispatches in flight across all workers. */
export type Tier = Readonly<{ name: string; requestsPerMinute: number; maxInFlight: number }>;

export type Tiers = ReadonlyMap<string, Tier>;

/** The seed's tiers. */
export const DEFAULT_TIERS_SPEC = 'free:10:1,basic:100:5,premium:1000:20,enterprise:5000:50';

const TIER_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * Parses `name:requests_per_minute:max_in_flight` entries separated by commas (the TIERS variable).
 * Throws an error naming the entry and what was expected.
 */
export const parseTiers = (spec: string): Tiers => {
  const tiers = new Map<string, Tier>();
  for (const raw of spec.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [name = '', rpm = '', inFlight = '', ...rest] = entry.split(':');
    const problem = (what: string) =>
      new Error(`tier "${entry}": ${what} (expected name:requests_per_minute:max_in_flight)`);
    if (rest.length > 0) throw problem('too many fields');
    if (!TIER_NAME.test(name)) throw problem('the name must be lowercase letters, digits, - or _');
    if (!/^[1-9]\d*$/.test(rpm)) throw problem('requests_per_minute must be a whole number above 0');
    if (!/^[1-9]\d*$/.test(inFlight)) throw problem('max_in_flight must be a whole number above 0');
    if (tiers.has(name)) throw problem('the name appears twice');
    tiers.set(name, { name, requestsPerMinute: Number(rpm), maxInFlight: Number(inFlight) });
  }
  if (tiers.size === 0) throw new Error('no tier defined (expected name:requests_per_minute:max_in_flight,...)');
  return tiers;
};
