import { type Static, Type } from 'typebox';
import { Value } from 'typebox/value';
import { DEFAULT_TIERS_SPEC, parseTiers } from '../../domain/client/tier.ts';
import { parseTargetAllowlist } from '../../domain/net/target-policy.ts';
import { parseEncryptionKey } from '../crypto/header-cipher.ts';

const Seconds = (def: number, minimum = 0) => Type.Number({ minimum, default: def });

const Env = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  MODE: Type.Union([Type.Literal('api'), Type.Literal('worker'), Type.Literal('both')], { default: 'both' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379' }),
  REDIS_SENTINEL_ADDR: Type.String({ default: '' }),
  REDIS_MASTER_NAME: Type.String({ default: 'mymaster' }),
  REDIS_PASSWORD: Type.String({ default: '' }),
  REDIS_SENTINEL_PASSWORD: Type.String({ default: '' }),
  REDIS_PREFIX: Type.String({ minLength: 1, pattern: '^[^{}\\s]+$', default: 'td' }),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 5000 }),
  REDIS_DATA_DIR: Type.String({ default: './data' }),
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, default: 10 }),
  WORKER_ID: Type.String({ default: '' }),
  TASK_TIMEOUT_SEC: Seconds(1800, 0.001),
  MAX_RETRY: Type.Integer({ minimum: 0, default: 5 }),
  RETRY_MIN_BACKOFF_SEC: Seconds(1, 0.001),
  RETRY_MAX_BACKOFF_SEC: Seconds(3600, 0.001),
  LEASE_SEC: Seconds(30, 0.1),
  SHUTDOWN_GRACE_SEC: Seconds(60),
  /** Finished tasks, and ledger entries, are kept this long, then removed (expunged, archived, trimmed). */
  RETENTION_HOURS: Type.Number({ exclusiveMinimum: 0, default: 168 }),
  RETENTION_INTERVAL_SEC: Seconds(60, 0.01),
  /** Where ledger events are appended as NDJSON before they are trimmed; '' = no archive. */
  LEDGER_ARCHIVE_DIR: Type.String({ default: '' }),
  PROJECTION_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }),
  PROJECTION_LOCK_SEC: Seconds(10, 0.1),
  /** Most ledger events one `as_of` query may replay; beyond it the query answers 422. */
  AS_OF_MAX_EVENTS: Type.Integer({ minimum: 1, default: 500_000 }),
  /** Guards the admin API (X-Admin-Key); unset = the admin API is disabled. */
  ADMIN_API_KEY: Type.String({ default: '' }),
  /** keys: every /v1 call needs a client's API key; open: no auth, for local development only. */
  AUTH_MODE: Type.Union([Type.Literal('keys'), Type.Literal('open')], { default: 'keys' }),
  /** name:requests_per_minute:max_in_flight, comma-separated (see domain/client/tier.ts). */
  TIERS: Type.String({ default: DEFAULT_TIERS_SPEC }),
  /** Deliver to loopback, private, link-local and CGNAT addresses; cloud metadata addresses stay blocked. */
  ALLOW_PRIVATE_URLS: Type.Boolean({ default: false }),
  /** Targets allowed although private: hosts, host:port pairs or CIDR ranges, comma-separated. */
  TARGET_ALLOWLIST: Type.String({ default: '' }),
  /** Consecutive failures that open a target host's circuit breaker. */
  CB_FAILURE_THRESHOLD: Type.Integer({ minimum: 1, default: 5 }),
  /** How long a breaker stays open before it lets probes through (half-open). */
  CB_TIMEOUT_SEC: Seconds(30, 0.001),
  /** Probes let through while half-open; that many successes close the breaker. */
  CB_MAX_REQUESTS: Type.Integer({ minimum: 1, default: 3 }),
  /** Failure counts of a closed breaker are cleared this often. */
  CB_INTERVAL_SEC: Seconds(60, 0.001),
  /** 32 bytes, base64 or hex: secret header values are stored encrypted (AES-256-GCM); '' = stored as given. */
  ENCRYPTION_KEY: Type.String({ default: '' }),
});

export type Config = Readonly<Static<typeof Env>>;

/** Every environment variable `loadConfig` reads, in the schema's order. */
export const CONFIG_VARIABLES = Object.keys(Env.properties) as readonly (keyof Config)[];

/** Reads and checks the environment; an invalid value stops the process with a message naming the variable. */
export const loadConfig = (env: Record<string, string | undefined> = process.env): Config => {
  const known = Object.fromEntries(
    Object.keys(Env.properties).flatMap((k) => (env[k] === undefined || env[k] === '' ? [] : [[k, env[k]]])),
  );
  // Convert would truncate "2.5" to 2 for an integer; a whole number must be written as one
  const props = Env.properties as Record<string, { type?: string }>;
  const fractional = Object.keys(known).filter((k) => props[k]?.type === 'integer' && !/^\d+$/.test(String(env[k])));
  if (fractional.length > 0) {
    throw new Error(
      `invalid environment: ${fractional.map((k) => `${k}=${JSON.stringify(env[k])} must be a whole number`).join('; ')}`,
    );
  }
  const value = Value.Convert(Env, Value.Default(Env, known));
  if (!Value.Check(Env, value)) {
    const problems = new Map<string, string>();
    for (const e of Value.Errors(Env, value)) {
      const name = e.instancePath.slice(1);
      if (!problems.has(name)) problems.set(name, `${name}=${JSON.stringify(env[name])} ${describe(name, e.message)}`);
    }
    throw new Error(`invalid environment: ${[...problems.values()].join('; ')}`);
  }
  if (value.RETRY_MAX_BACKOFF_SEC < value.RETRY_MIN_BACKOFF_SEC) {
    throw new Error('invalid environment: RETRY_MAX_BACKOFF_SEC must be at least RETRY_MIN_BACKOFF_SEC');
  }
  try {
    parseTiers(value.TIERS);
  } catch (err) {
    throw new Error(`invalid environment: TIERS=${JSON.stringify(value.TIERS)}: ${(err as Error).message}`);
  }
  try {
    parseTargetAllowlist(value.TARGET_ALLOWLIST);
  } catch (err) {
    throw new Error(`invalid environment: ${(err as Error).message}`);
  }
  try {
    if (value.ENCRYPTION_KEY !== '') parseEncryptionKey(value.ENCRYPTION_KEY);
  } catch (err) {
    // the value itself is never quoted: a near miss of the real key is still a secret
    throw new Error(`invalid environment: ENCRYPTION_KEY ${(err as Error).message}`);
  }
  return Object.freeze(value);
};

const describe = (name: string, message: string): string => {
  const schema = (Env.properties as Record<string, { anyOf?: { const?: unknown }[] }>)[name];
  return schema?.anyOf ? `must be one of ${schema.anyOf.map((s) => s.const).join(', ')}` : message;
};
