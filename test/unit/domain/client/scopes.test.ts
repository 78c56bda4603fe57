import { describe, expect, test } from 'vitest';
import {
  ACTIONS,
  accessFor,
  parseStoredScopes,
  type Scope,
  scopesAllowing,
  storedScopes,
} from '../../../../src/domain/client/scopes.ts';

const access = (...scopes: Scope[]) => Object.fromEntries(ACTIONS.map((a) => [a, accessFor(new Set(scopes), a)]));

describe('what each scope allows (the table in the README)', () => {
  test('enqueue: enqueue and cancel its own client’s tasks, nothing else', () => {
    expect(access('enqueue')).toEqual({
      enqueue: 'own',
      cancelTask: 'own',
      readTask: 'none',
      listTasks: 'none',
      clientStats: 'none',
      readQueues: 'none',
      controlQueues: 'none',
    });
  });

  test('read: read, list and count its own client’s tasks, nothing else', () => {
    expect(access('read')).toEqual({
      enqueue: 'none',
      cancelTask: 'none',
      readTask: 'own',
      listTasks: 'own',
      clientStats: 'own',
      readQueues: 'none',
      controlQueues: 'none',
    });
  });

  test('audit: read any client’s task and history, nothing else (not even lists)', () => {
    expect(access('audit')).toEqual({
      enqueue: 'none',
      cancelTask: 'none',
      readTask: 'any',
      listTasks: 'none',
      clientStats: 'none',
      readQueues: 'none',
      controlQueues: 'none',
    });
  });

  test('admin: everything, for every client', () => {
    expect(Object.values(access('admin'))).toEqual(ACTIONS.map(() => 'any'));
  });

  test('a new client’s default scopes (enqueue, read) combine: own access to its tasks, no queue stats', () => {
    expect(access('enqueue', 'read')).toMatchObject({ enqueue: 'own', readTask: 'own', readQueues: 'none' });
  });

  test('read with audit: any task by id, but lists only its own', () => {
    expect(access('read', 'audit')).toMatchObject({ readTask: 'any', listTasks: 'own' });
  });

  test('no scope: nothing', () => {
    expect(Object.values(access())).toEqual(ACTIONS.map(() => 'none'));
  });

  test('the scopes named in a 403 are those that allow the action at all', () => {
    expect(scopesAllowing('readTask')).toEqual(['read', 'audit', 'admin']);
    expect(scopesAllowing('controlQueues')).toEqual(['admin']);
  });
});

describe('stored form', () => {
  test('round-trips in a fixed order, without duplicates', () => {
    expect(storedScopes(['read', 'enqueue', 'read'])).toBe('enqueue,read');
    expect([...parseStoredScopes('enqueue,read')]).toEqual(['enqueue', 'read']);
  });

  test('a name this build does not know grants nothing', () => {
    expect([...parseStoredScopes('read,superuser,')]).toEqual(['read']);
    expect(parseStoredScopes('').size).toBe(0);
  });
});
