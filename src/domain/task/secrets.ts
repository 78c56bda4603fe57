/**
 * Which headers of a task's target request carry secrets, and how they are shown. Secret values are masked in
 * every API response and log line, and encrypted at rest when ENCRYPTION_KEY is set.
 */

/** A fixed marker: it does not reveal the length or any character of the value. */
export const SECRET_MASK = '***';

const SECRET_NAMES: ReadonlySet<string> = new Set(['authorization', 'cookie', 'proxy-authorization']);
const SECRET_SUFFIXES = ['-token', '-key', '-secret'] as const;

/** Authorization, Cookie, Proxy-Authorization, and names ending in -Token, -Key or -Secret; any letter case. */
export const isSecretHeader = (name: string): boolean => {
  const lower = name.toLowerCase();
  return SECRET_NAMES.has(lower) || SECRET_SUFFIXES.some((suffix) => lower.endsWith(suffix));
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
