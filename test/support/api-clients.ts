import type { FastifyInstance, InjectOptions } from 'fastify';
import { ClientRegistry } from '../../src/adapters/redis/client-registry.ts';
import type { Scope } from '../../src/domain/client/scopes.ts';
import type { startService } from './service.ts';

type Service = Awaited<ReturnType<typeof startService>>;

/** Registers a client straight in the service's registry (as the CLI would) and returns its API key. */
export const registerClient = async (
  service: Service,
  clientId: string,
  { tier = 'free', scopes }: { tier?: string; scopes?: Scope[] } = {},
): Promise<string> => {
  const r = await new ClientRegistry(service.redis, service.keys).put(
    { clientId, tier, ...(scopes ? { scopes } : {}) },
    'create',
  );
  if (r.outcome !== 'created' || r.apiKey === null) throw new Error(`client ${clientId} not created: ${r.outcome}`);
  return r.apiKey;
};

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A task that stays scheduled for an hour: nothing is delivered while a test looks at it. */
export const laterTask = (clientId: string, queue = 'default') => ({
  client_id: clientId,
  queue,
  delay: 3600,
  task: { url: 'http://127.0.0.1:9/never' },
});

/** `app.inject` with the response body parsed (null when empty). */
export const call = async (
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  headers: Record<string, string> = {},
  payload?: unknown,
) => {
  const options: InjectOptions = { method, url, headers };
  if (payload !== undefined) options.payload = payload as NonNullable<InjectOptions['payload']>;
  const res = await app.inject(options);
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are read field by field by the assertions
  const body: any = res.body === '' ? null : res.json();
  return { status: res.statusCode, headers: res.headers, body };
};
