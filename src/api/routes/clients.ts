import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { ClientRegistry } from '../../adapters/redis/client-registry.ts';
import { type Client, isClientId, validateClientChange } from '../../domain/client/client.ts';
import type { Tiers } from '../../domain/client/tier.ts';
import { DomainError } from '../../domain/task/errors.ts';
import { invalidRequest } from '../errors.ts';
import { ErrorReply } from '../schemas.ts';
import { adminGuard } from './admin.ts';

export type ClientRoutesOptions = Readonly<{ clients: ClientRegistry; tiers: Tiers; adminKey: string }>;

const iso = (ms: number) => new Date(ms).toISOString();

/** The wire view of a client. It never carries a key or a key digest: the reply schemas drop any other field. */
const clientView = (c: Client) => ({
  client_id: c.clientId,
  tier: c.tier,
  enabled: c.enabled,
  scopes: [...c.scopes],
  created_at: iso(c.createdAt),
  updated_at: iso(c.updatedAt),
});

const ClientReply = Type.Object({
  client_id: Type.String(),
  tier: Type.String(),
  enabled: Type.Boolean(),
  scopes: Type.Array(Type.String()),
  created_at: Type.String(),
  updated_at: Type.String(),
});
/** A key appears only in the reply of the call that issued it. */
const IssuedReply = Type.Object({ ...ClientReply.properties, api_key: Type.Optional(Type.String()) });
const ClientParams = Type.Object({ id: Type.String() });

/**
 * The client registry's admin API (X-Admin-Key, as every /admin route): create or update clients, list them,
 * rotate and delete their keys, and the tiers they can be given.
 */
export const clientRoutes: FastifyPluginAsync<ClientRoutesOptions> = async (app, { clients, tiers, adminKey }) => {
  app.addHook('onRequest', adminGuard(adminKey));
  const tierNames = [...tiers.keys()];
  const noClient = (id: string) => new DomainError('NotFound', `no client ${id}`);

  /**
   * Creates a client (201, with its new API key, shown this once) or updates one (200; a new key only with
   * `rotate_key: true`). Fields left out of an update keep their value.
   */
  app.post(
    '/admin/clients',
    { schema: { response: { 200: IssuedReply, 201: IssuedReply, 400: ErrorReply } } },
    async (req, reply) => {
      const input = validateClientChange(req.body, tierNames);
      if (!input.ok) return reply.code(400).send(invalidRequest(input.errors));
      const { rotateKey, ...fields } = input.value;
      const result = await clients.put(fields, 'upsert', { newKey: rotateKey });
      if (result.outcome !== 'created' && result.outcome !== 'updated') throw noClient(fields.clientId);
      return reply
        .code(result.outcome === 'created' ? 201 : 200)
        .send({ ...clientView(result.client), ...(result.apiKey === null ? {} : { api_key: result.apiKey }) });
    },
  );

  app.get(
    '/admin/clients',
    { schema: { response: { 200: Type.Object({ clients: Type.Array(ClientReply) }) } } },
    async () => ({
      clients: (await clients.list()).map(clientView),
    }),
  );

  app.get<{ Params: { id: string } }>(
    '/admin/clients/:id',
    { schema: { params: ClientParams, response: { 200: ClientReply, 404: ErrorReply } } },
    async (req) => {
      const client = isClientId(req.params.id) ? await clients.get(req.params.id) : null;
      if (!client) throw noClient(req.params.id);
      return clientView(client);
    },
  );

  /** Deletes the client; its key stops working at once. Its tasks stay and are still delivered. */
  app.delete<{ Params: { id: string } }>(
    '/admin/clients/:id',
    {
      schema: {
        params: ClientParams,
        response: { 200: Type.Object({ client_id: Type.String(), deleted: Type.Boolean() }), 404: ErrorReply },
      },
    },
    async (req) => {
      if (!isClientId(req.params.id) || !(await clients.remove(req.params.id))) throw noClient(req.params.id);
      return { client_id: req.params.id, deleted: true };
    },
  );

  /** Issues a new key (201, shown this once); the old one stops working at once. */
  app.post<{ Params: { id: string } }>(
    '/admin/clients/:id/keys',
    { schema: { params: ClientParams, response: { 201: IssuedReply, 404: ErrorReply } } },
    async (req, reply) => {
      const rotated = isClientId(req.params.id) ? await clients.rotate(req.params.id) : null;
      if (!rotated) throw noClient(req.params.id);
      return reply.code(201).send({ ...clientView(rotated.client), api_key: rotated.apiKey });
    },
  );

  app.get('/admin/tiers', async () => ({
    tiers: [...tiers.values()].map((t) => ({
      name: t.name,
      requests_per_minute: t.requestsPerMinute,
      max_in_flight: t.maxInFlight,
    })),
  }));
};
