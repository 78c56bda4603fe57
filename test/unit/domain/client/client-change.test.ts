import { describe, expect, test } from 'vitest';
import { parseScopeArgument, validateClientChange } from '../../../../src/domain/client/client.ts';

const TIERS = ['free', 'basic'];
const fields = (body: unknown) => {
  const r = validateClientChange(body, TIERS);
  if (r.ok) throw new Error(`expected a rejection, got ${JSON.stringify(r.value)}`);
  return Object.fromEntries(r.errors.map((e) => [e.field, e.expected]));
};

describe('POST /admin/clients body', () => {
  test('client_id and tier are enough; the rest is left out (kept on update, defaults on create)', () => {
    expect(validateClientChange({ client_id: 'svc-1', tier: 'free' }, TIERS)).toEqual({
      ok: true,
      value: { clientId: 'svc-1', tier: 'free', rotateKey: false },
    });
  });

  test('enabled, scopes (deduplicated, in canonical order) and rotate_key', () => {
    const r = validateClientChange(
      { client_id: 'svc_1', tier: 'basic', enabled: false, scopes: ['read', 'audit', 'read'], rotate_key: true },
      TIERS,
    );
    expect(r).toEqual({
      ok: true,
      value: { clientId: 'svc_1', tier: 'basic', enabled: false, scopes: ['read', 'audit'], rotateKey: true },
    });
  });

  test('an unknown tier names the field and the allowed tiers', () => {
    expect(fields({ client_id: 'svc-1', tier: 'gold' })).toEqual({ tier: 'one of free, basic (the tiers in TIERS)' });
  });

  test.each([
    ['too short', 'ab'],
    ['too long', 'a'.repeat(65)],
    ['a dot', 'svc.1'],
    ['a space', 'svc 1'],
    ['non-ASCII', 'sérvice'],
    ['a number', 123],
  ])('client_id %s is refused with the rule', (_, id) => {
    expect(fields({ client_id: id, tier: 'free' })).toEqual({
      client_id: 'a string of 3-64 characters from A-Z, a-z, 0-9, _ and -',
    });
  });

  test('3 and 64 characters are fine', () => {
    expect(validateClientChange({ client_id: 'abc', tier: 'free' }, TIERS).ok).toBe(true);
    expect(validateClientChange({ client_id: 'a'.repeat(64), tier: 'free' }, TIERS).ok).toBe(true);
  });

  test('every wrong field is named at once', () => {
    expect(
      Object.keys(
        fields({ tier: 1, enabled: 'yes', scopes: ['read', 'root'], rotate_key: 1, api_key: 'x', digest: 'y' }),
      ).sort(),
    ).toEqual(['api_key', 'client_id', 'digest', 'enabled', 'rotate_key', 'scopes', 'tier']);
  });

  test.each([[[]], ['read'], [['read', 1]], [null]])('scopes %j is refused', (scopes) => {
    expect(fields({ client_id: 'svc-1', tier: 'free', scopes })).toHaveProperty('scopes');
  });

  test.each([[null], [[]], ['text']])('a body that is not an object (%j) is refused', (body) => {
    expect(fields(body)).toEqual({ '(body)': 'a JSON object' });
  });
});

describe('--scopes on the command line', () => {
  test('comma-separated, spaces allowed', () => {
    expect(parseScopeArgument('read, audit')).toEqual({ ok: true, value: ['read', 'audit'] });
  });

  test.each(['', 'read,,', 'read,owner'])('%j is refused', (raw) => {
    expect(parseScopeArgument(raw).ok).toBe(false);
  });
});
