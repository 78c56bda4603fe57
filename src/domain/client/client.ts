import { CLIENT_ID, type FieldError, isObject, type Validation } from '../task/validate.ts';
import { isScope, SCOPES, type Scope } from './scopes.ts';

/** A registered client as the registry holds it; its API key is only ever held as a digest. */
export type Client = Readonly<{
  clientId: string;
  tier: string;
  enabled: boolean;
  scopes: readonly Scope[];
  createdAt: number;
  updatedAt: number;
}>;

/** A create-or-update: fields left out keep their value on an update and take the defaults on a create. */
export type ClientChange = Readonly<{
  clientId: string;
  tier: string;
  enabled?: boolean;
  scopes?: readonly Scope[];
  /** Issue a new key for an existing client (a new client always gets one). */
  rotateKey: boolean;
}>;

export const CLIENT_ID_EXPECTED = 'a string of 3-64 characters from A-Z, a-z, 0-9, _ and -';
const SCOPES_EXPECTED = `an array of one or more of ${SCOPES.join(', ')}`;
const BODY_FIELDS = ['client_id', 'tier', 'enabled', 'scopes', 'rotate_key'];

export const isClientId = (v: unknown): v is string => typeof v === 'string' && CLIENT_ID.test(v);

export const tierExpected = (tierNames: readonly string[]) => `one of ${tierNames.join(', ')} (the tiers in TIERS)`;

const scopeList = (v: unknown): Scope[] | null => {
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string' && isScope(s))) return null;
  return SCOPES.filter((s) => v.includes(s));
};

/** `POST /admin/clients`: client_id and tier required; enabled, scopes and rotate_key optional. */
export const validateClientChange = (body: unknown, tierNames: readonly string[]): Validation<ClientChange> => {
  if (!isObject(body)) return { ok: false, errors: [{ field: '(body)', expected: 'a JSON object' }], tooLarge: false };
  const errors: FieldError[] = Object.keys(body)
    .filter((k) => !BODY_FIELDS.includes(k))
    .map((k) => ({ field: k, expected: `no such field; expected only ${BODY_FIELDS.join(', ')}` }));
  const { client_id: clientId, tier, enabled, scopes, rotate_key: rotateKey } = body;
  if (!isClientId(clientId)) errors.push({ field: 'client_id', expected: CLIENT_ID_EXPECTED });
  if (typeof tier !== 'string' || !tierNames.includes(tier)) {
    errors.push({ field: 'tier', expected: tierExpected(tierNames) });
  }
  if (enabled !== undefined && typeof enabled !== 'boolean')
    errors.push({ field: 'enabled', expected: 'true or false' });
  const parsedScopes = scopes === undefined ? undefined : scopeList(scopes);
  if (parsedScopes === null) errors.push({ field: 'scopes', expected: SCOPES_EXPECTED });
  if (rotateKey !== undefined && typeof rotateKey !== 'boolean') {
    errors.push({ field: 'rotate_key', expected: 'true or false' });
  }
  if (errors.length > 0) return { ok: false, errors, tooLarge: false };
  return {
    ok: true,
    value: {
      clientId: clientId as string,
      tier: tier as string,
      ...(enabled === undefined ? {} : { enabled: enabled as boolean }),
      ...(parsedScopes ? { scopes: parsedScopes } : {}),
      rotateKey: rotateKey === true,
    },
  };
};

/** `--scopes enqueue,read` on the command line. */
export const parseScopeArgument = (raw: string): Validation<Scope[]> => {
  const scopes = scopeList(raw.split(',').map((s) => s.trim()));
  return scopes
    ? { ok: true, value: scopes }
    : {
        ok: false,
        errors: [{ field: 'scopes', expected: `${SCOPES.join(', ')} separated by commas` }],
        tooLarge: false,
      };
};
