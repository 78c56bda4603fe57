/**
 * Which headers of a task's target request carry secrets, and how they are shown. Secret values are masked in
 * every API response and log line, and encrypted at rest when ENCRYPTION_KEY is set.
 */

/** A fixed marker: it does not reveal the length or any character of the value. */
export const SECRET_MASK = '***';

const SECRET_NAMES: ReadonlySet<string> = new Set(['authorization', 'cookie', 'proxy-authorization']);
/**
 * Words that make a header secret when they are a whole component of its name (the name split on `-` and `_`):
 * `apikey`, `X_Api_Key`, `X-Auth`, `Stripe-Signature`, `X-Session`, `Private-Token` are secret; `X-Keyboard`,
 * `Tokens` are not. A broad list on purpose: masking a harmless value costs little, missing a credential does not.
 */
const SECRET_NAME_PARTS: ReadonlySet<string> = new Set([
  'token',
  'secret',
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'key',
  'apikey',
  'auth',
  'authorization',
  'cookie',
  'signature',
  'credential',
  'credentials',
  'session',
  'jwt',
]);

/** Authorization, Cookie, Proxy-Authorization, and any name with a component in SECRET_NAME_PARTS; any case. */
export const isSecretHeader = (name: string): boolean => {
  const lower = name.toLowerCase();
  return SECRET_NAMES.has(lower) || lower.split(/[-_]/).some((part) => SECRET_NAME_PARTS.has(part));
};

export const hasSecretHeaders = (headers: Readonly<Record<string, string>>): boolean =>
  Object.keys(headers).some(isSecretHeader);

/** The same headers in the same order, each secret value replaced by `f(name, value)`. */
export const mapSecretHeaders = (
  headers: Readonly<Record<string, string>>,
  f: (name: string, value: string) => string,
): Record<string, string> =>
  Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, isSecretHeader(name) ? f(name, value) : value]),
  );

/** The same headers in the same order, each secret value replaced by SECRET_MASK. */
export const maskHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> =>
  mapSecretHeaders(headers, () => SECRET_MASK);
