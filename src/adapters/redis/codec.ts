import { EVENT_SCHEMA_VERSION, type Recorded, type TaskEvent } from '../../domain/task/events.ts';
import { hasSecretHeaders, isSecretHeader, maskHeaders } from '../../domain/task/secrets.ts';
import type { HttpRequestSpec } from '../../domain/task/task.ts';
import { type HeaderCipher, isSealed } from '../crypto/header-cipher.ts';

/**
 * Events are stored as one compact JSON line each, in the task's history and in the ledger stream:
 * {"t":type,"v":version,"at":ms,"s":schema,"d":data}. The task id is the key (history) or a field (ledger).
 */
type Line = { t: TaskEvent['type']; v: number; at: number; s: number; d: unknown };

export const encodeEvent = (e: Recorded): string =>
  JSON.stringify({ t: e.type, v: e.version, at: e.at, s: e.schema, d: e.data } satisfies Line);

export const decodeEvent = (taskId: string, line: string): Recorded => {
  const raw = JSON.parse(line) as Line;
  return upcast({ type: raw.t, data: raw.d, taskId, version: raw.v, at: raw.at, schema: raw.s } as Recorded);
};

export const decodeHistory = (taskId: string, history: string): Recorded[] =>
  history === '' ? [] : history.split('\n').map((line) => decodeEvent(taskId, line));

/** Brings older event shapes up to the current schema; schema 1 is the only one so far. */
export const upcast = (e: Recorded): Recorded => {
  if (e.schema > EVENT_SCHEMA_VERSION) throw new Error(`event schema ${e.schema} is newer than this build`);
  return e;
};

/**
 * The target request is stored once per task, as JSON. With a cipher, secret header values are sealed
 * (see domain/task/secrets.ts, adapters/crypto/header-cipher.ts) and `sealed: 1` says so; without one they
 * are stored as given. A request without secret headers is stored as given either way.
 *
 * In a request marked `sealed`, a value is sealed exactly when it starts with the enc:v1 marker: opening goes by
 * the marker, not by the header's name, so a name that became secret after its task was stored (the list of
 * secret names grows) is still read as stored. To keep that exact, a value that merely looks sealed is sealed
 * too, whatever its header's name.
 */
type StoredRequest = HttpRequestSpec & { sealed?: 1 };

/** What a sealed value is bound to: its task, its header (any letter case) and the target URL. */
const sealContext = (taskId: string, name: string, url: string) => `${taskId}\n${name.toLowerCase()}\n${url}`;

const mapHeaders = (
  headers: Readonly<Record<string, string>>,
  f: (name: string, value: string) => string,
): Record<string, string> => Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, f(name, value)]));

export const encodeRequest = (r: HttpRequestSpec, taskId = '', cipher: HeaderCipher | null = null): string => {
  if (!cipher || !hasSecretHeaders(r.headers)) return JSON.stringify(r);
  const headers = mapHeaders(r.headers, (name, value) =>
    isSecretHeader(name) || isSealed(value) ? cipher.seal(value, sealContext(taskId, name, r.url)) : value,
  );
  return JSON.stringify({ ...r, headers, sealed: 1 } satisfies StoredRequest);
};

const parseRequest = (raw: string): StoredRequest => {
  try {
    return JSON.parse(raw) as StoredRequest;
  } catch {
    // not the parser's message: it quotes the start of the input, which may hold a secret
    throw new Error('the stored request is not valid JSON');
  }
};

/** For dispatch only: the request with its secret header values opened. Throws when they cannot be opened. */
export const decodeRequest = (raw: string, taskId = '', cipher: HeaderCipher | null = null): HttpRequestSpec | null => {
  if (raw === '') return null;
  const { sealed, ...request } = parseRequest(raw);
  if (!sealed) return request;
  const open = (name: string, value: string) => {
    if (!isSealed(value)) return value;
    if (!cipher) throw new Error('its secret headers are stored encrypted and ENCRYPTION_KEY is not set');
    return cipher.open(value, sealContext(taskId, name, request.url));
  };
  return { ...request, headers: mapHeaders(request.headers, open) };
};

/** For reads: the request with its secret header values masked. Nothing is decrypted, no key is needed. */
export const decodeMaskedRequest = (raw: string): HttpRequestSpec | null => {
  if (raw === '') return null;
  const { sealed: _sealed, ...request } = parseRequest(raw);
  return { ...request, headers: maskHeaders(request.headers) };
};
