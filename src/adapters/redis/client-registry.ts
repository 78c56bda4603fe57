import type { Redis } from 'ioredis';
import type { Client } from '../../domain/client/client.ts';
import { DEFAULT_SCOPES, parseStoredScopes, SCOPES, type Scope, storedScopes } from '../../domain/client/scopes.ts';
import { digestApiKey, newApiKey, sameDigest } from '../auth/api-keys.ts';
import type { Keys } from './keys.ts';
import { runScript, scripts } from './scripts/index.ts';
import { guardStorage } from './task-store.ts';

/** The client an API key belongs to, as the API needs it on every call. */
export type KeyOwner = Readonly<{ clientId: string; tier: string; enabled: boolean; scopes: ReadonlySet<Scope> }>;

/** What to set; fields left out keep their value (or take the defaults for a new client). */
export type ClientFields = Readonly<{ clientId: string; tier?: string; enabled?: boolean; scopes?: readonly Scope[] }>;

/** create: only a new client; upsert: new or existing; update: only an existing one. */
export type PutMode = 'create' | 'upsert' | 'update';

export type PutResult =
  | Readonly<{ outcome: 'created' | 'updated'; client: Client; apiKey: string | null }>
  | Readonly<{ outcome: 'exists' | 'missing' }>;

const toClient = (clientId: string, h: Record<string, string>): Client | null =>
  h.tier === undefined
    ? null
    : {
        clientId,
        tier: h.tier,
        enabled: h.enabled === '1',
        scopes: SCOPES.filter((s) => parseStoredScopes(h.scopes ?? '').has(s)),
        createdAt: Number(h.createdAt ?? 0),
        updatedAt: Number(h.updatedAt ?? 0),
      };

/**
 * The client registry in Redis: one hash per client (tier, enabled, scopes, key digest, times), the set of ids,
 * and one entry per key digest naming its client. API keys are never stored, only their SHA-256 digests; a new
 * key is returned once, by the call that issued it. Every change is one script, so a key stops working in the
 * same step that replaces or deletes it. Used by the admin API and the CLI alike.
 */
export class ClientRegistry {
  readonly redis: Redis;
  readonly keys: Keys;
  private readonly now: () => number;

  constructor(redis: Redis, keys: Keys, now: () => number = Date.now) {
    this.redis = redis;
    this.keys = keys;
    this.now = now;
  }

  /** Creates or changes a client; `newKey` switches an existing client to a new key (a new client always gets one). */
  async put(fields: ClientFields, mode: PutMode, { newKey = false } = {}): Promise<PutResult> {
    const key = newApiKey();
    const reply = (await guardStorage('save client', () =>
      runScript(
        this.redis,
        scripts.clientPut,
        [this.keys.client(fields.clientId), this.keys.clients],
        [
          fields.clientId,
          mode,
          fields.tier ?? '',
          fields.enabled === undefined ? '' : fields.enabled ? '1' : '0',
          storedScopes(fields.scopes ?? []),
          digestApiKey(key),
          newKey ? '1' : '0',
          this.now(),
          this.keys.apiKey(''),
          storedScopes(DEFAULT_SCOPES),
        ],
      ),
    )) as [string, number?];
    const [status, issued] = reply;
    if (status === 'EXISTS') return { outcome: 'exists' };
    if (status === 'MISSING') return { outcome: 'missing' };
    const client = await this.get(fields.clientId);
    // deleted again between the two calls: as if it had never been there
    if (!client) return { outcome: 'missing' };
    return { outcome: status === 'CREATED' ? 'created' : 'updated', client, apiKey: issued === 1 ? key : null };
  }

  /** Issues a new key; the old one stops working. Null when there is no such client. */
  async rotate(clientId: string): Promise<{ client: Client; apiKey: string } | null> {
    const r = await this.put({ clientId }, 'update', { newKey: true });
    return r.outcome === 'updated' && r.apiKey !== null ? { client: r.client, apiKey: r.apiKey } : null;
  }

  /** False when there is no such client. */
  async setEnabled(clientId: string, enabled: boolean): Promise<Client | null> {
    const r = await this.put({ clientId, enabled }, 'update');
    return r.outcome === 'updated' ? r.client : null;
  }

  async get(clientId: string): Promise<Client | null> {
    return toClient(clientId, await guardStorage('read client', () => this.redis.hgetall(this.keys.client(clientId))));
  }

  /** Every client, by id. */
  async list(): Promise<Client[]> {
    const ids = (await guardStorage('list clients', () => this.redis.smembers(this.keys.clients))).sort();
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.client(id));
    const replies = await guardStorage('list clients', async () => (await pipeline.exec()) ?? []);
    return ids.flatMap((id, i) => {
      const client = toClient(id, (replies[i]?.[1] ?? {}) as Record<string, string>);
      return client ? [client] : [];
    });
  }

  async count(): Promise<number> {
    return guardStorage('count clients', () => this.redis.scard(this.keys.clients));
  }

  /** Deletes the client, its key (which stops working at once) and its rate window; its tasks stay. */
  async remove(clientId: string): Promise<boolean> {
    const removed = await guardStorage('delete client', () =>
      runScript(
        this.redis,
        scripts.clientDelete,
        [this.keys.client(clientId), this.keys.clients, this.keys.rateWindow(clientId)],
        [clientId, this.keys.apiKey('')],
      ),
    );
    return Number(removed) === 1;
  }

  /**
   * The client a key belongs to, or null for an unknown key. The lookup goes by digest (key → digest → client);
   * the client's stored digest is then compared with the key's in constant time, so a stale key entry can
   * never let a replaced key in.
   */
  async authenticate(apiKey: string): Promise<KeyOwner | null> {
    const digest = digestApiKey(apiKey);
    const found = (await guardStorage('authenticate', () =>
      runScript(this.redis, scripts.clientAuth, [this.keys.apiKey(digest)], [this.keys.client('')]),
    )) as [string, string, string, string, string] | null;
    if (!found) return null;
    const [clientId, stored, tier, enabled, scopes] = found;
    if (!sameDigest(stored, digest)) return null;
    return { clientId, tier, enabled: enabled === '1', scopes: parseStoredScopes(scopes) };
  }
}
