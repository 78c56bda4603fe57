import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KeyOwner } from '../adapters/redis/client-registry.ts';
import { parseAuthorization } from '../domain/client/api-key.ts';
import { type Access, type Action, accessFor, scopesAllowing } from '../domain/client/scopes.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a /v1 route does, which decides the scopes it needs (see domain/client/scopes.ts). */
    action?: Action;
  }
  interface FastifyRequest {
    /** Who is calling a /v1 route, set by the auth hook before the handler runs. */
    principal: Principal | null;
  }
}

/** keys: every /v1 call carries a client's API key; open: no auth, for local development only. */
export type AuthMode = 'keys' | 'open';

/**
 * The caller of a /v1 route. `clientId` null: open mode, acting for whatever client_id the body names.
 * `access` own: only the key's client's tasks; any: every client's.
 */
export type Principal = Readonly<{ clientId: string | null; tier: string | null; access: Exclude<Access, 'none'> }>;

const OPEN: Principal = { clientId: null, tier: null, access: 'any' };
const CHALLENGE = 'Bearer realm="task-dispatcher"';

export type AuthOptions = Readonly<{ mode: AuthMode; authenticate: (apiKey: string) => Promise<KeyOwner | null> }>;

const unauthenticated = (reply: FastifyReply, error: string, message: string) => {
  const challenge = error === 'invalid_token' ? `${CHALLENGE}, error="invalid_token"` : CHALLENGE;
  return reply.code(401).header('WWW-Authenticate', challenge).send({ error, message });
};

const isV1 = (req: FastifyRequest): boolean => req.routeOptions.url?.startsWith('/v1/') === true;

/**
 * Checks every call to a /v1 route (health and admin routes have their own rules): 401 without valid credentials,
 * 403 for a disabled client or a key without the scope the route's action needs. A /v1 route that declares no
 * action is admin-only. Registered on the root instance before the routes, so that it covers all of them.
 */
export const registerAuth = (app: FastifyInstance, { mode, authenticate }: AuthOptions) => {
  app.decorateRequest('principal', null);
  if (mode === 'open') {
    // nothing to look up: a callback hook, which costs no promise per request
    app.addHook('onRequest', (req, _reply, done) => {
      if (isV1(req)) req.principal = OPEN;
      done();
    });
    return;
  }
  app.addHook('onRequest', async (req, reply) => {
    if (!isV1(req)) return;
    const credentials = parseAuthorization(req.headers.authorization);
    switch (credentials.kind) {
      case 'missing':
        return unauthenticated(reply, 'unauthenticated', 'send an API key: Authorization: Bearer <key>');
      case 'other-scheme':
        return unauthenticated(reply, 'unauthenticated', 'use the Bearer scheme: Authorization: Bearer <key>');
      case 'malformed':
        return unauthenticated(reply, 'invalid_token', 'the Bearer token is not an API key (tdk_...)');
    }
    const owner = await authenticate(credentials.key);
    if (!owner) return unauthenticated(reply, 'invalid_token', 'unknown API key (wrong, replaced or deleted)');
    if (!owner.enabled) {
      return reply.code(403).send({ error: 'client_disabled', message: `client ${owner.clientId} is disabled` });
    }
    const action = req.routeOptions.config.action ?? 'controlQueues';
    const access = accessFor(owner.scopes, action);
    if (access === 'none') {
      const needed = scopesAllowing(action);
      return reply
        .code(403)
        .header('WWW-Authenticate', `${CHALLENGE}, error="insufficient_scope", scope="${needed.join(' ')}"`)
        .send({ error: 'insufficient_scope', message: `this API key needs one of the scopes ${needed.join(', ')}` });
    }
    req.principal = { clientId: owner.clientId, tier: owner.tier, access };
  });
};

/** Without a principal (the hook did not run: a bug) the caller may see nothing. */
const NOBODY: Principal = { clientId: '', tier: null, access: 'own' };

/** Route options naming a /v1 route's action: `app.get(url, forAction('readTask'), handler)`. */
export const forAction = (action: Action) => ({ config: { action } });

export const principalOf = (req: FastifyRequest): Principal => req.principal ?? NOBODY;

/** Whether the caller may see or change a task of `clientId`; a task it may not see must answer 404. */
export const mayAccess = (req: FastifyRequest, clientId: string): boolean => {
  const p = principalOf(req);
  return p.access === 'any' || p.clientId === clientId;
};

/** Why the caller may not enqueue for `clientId` (names the field), or null when it may. */
export const enqueueForbidden = (req: FastifyRequest, clientId: string): string | null =>
  mayAccess(req, clientId)
    ? null
    : `client_id: this API key belongs to client ${principalOf(req).clientId} and may enqueue only for it`;
