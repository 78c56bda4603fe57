import { type DestinationStream, type Logger, pino, stdSerializers } from 'pino';
import { isSecretHeader, SECRET_MASK } from '../../domain/task/secrets.ts';

export type { Logger };

const MAX_DEPTH = 6;

/** pino's serialized errors (and the errors nested in them) inherit from this rather than from Object. */
const SERIALIZED_ERROR: unknown = Object.getPrototypeOf(stdSerializers.err(new Error('probe')));

const isPlain = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null || proto === SERIALIZED_ERROR;
};

/**
 * Masks the value of every property named like a secret header (domain/task/secrets.ts) in plain objects,
 * arrays and errors, at any depth up to MAX_DEPTH. An error, under any key, is replaced by pino's serialized
 * form (type, message, stack and its own fields), masked. Copy on write: the caller's object is never changed,
 * and an object without secrets or errors is returned as it is, so the usual log line allocates nothing here.
 */
export const maskSecrets = <T>(value: T, depth = 0): T => {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (value instanceof Error) return maskSecrets(stdSerializers.err(value), depth) as T;
  if (Array.isArray(value)) {
    const items = value.map((item) => maskSecrets(item, depth + 1));
    return (items.some((item, i) => item !== value[i]) ? items : value) as T;
  }
  if (!isPlain(value)) return value;
  const source = value as Record<string, unknown>;
  let copy: Record<string, unknown> | null = null;
  for (const key of Object.keys(source)) {
    const item = source[key];
    const masked =
      isSecretHeader(key) && item !== undefined && item !== null ? SECRET_MASK : maskSecrets(item, depth + 1);
    if (masked !== item) {
      copy ??= { ...source };
      copy[key] = masked;
    }
  }
  return (copy ?? value) as T;
};

/**
 * JSON logs, on stdout unless `destination` is given. Code logs ids and outcomes, never a task's request; as a
 * second line of defence, secret header values anywhere in a logged object, a child logger's bindings or an
 * error are masked. Message strings are not scanned, so they must never carry request data.
 */
export const createLogger = (level: string, destination?: DestinationStream): Logger => {
  const options = {
    level,
    base: { service: 'task-dispatcher' },
    formatters: { log: (object: Record<string, unknown>) => maskSecrets(object) },
    serializers: { err: (err: unknown) => maskSecrets(err) },
  };
  const logger = destination ? pino(options, destination) : pino(options);
  // pino runs formatters.bindings on the root's base only, not on a child's bindings (lib/proto.js, child()),
  // so bindings are masked here; children are created from their parent's prototype and inherit this method
  const child = logger.child;
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, maskSecrets(bindings), childOptions);
  } as Logger['child'];
  return logger;
};
