import Fastify, { type FastifyBaseLogger } from 'fastify';
import { describe, expect, test } from 'vitest';
import { createLogger, maskSecrets } from '../../../src/adapters/logging/logger.ts';
import { SECRET_MASK } from '../../../src/domain/task/secrets.ts';

const SECRET = 'Bearer plant-log-secret-5e1c';
const API_KEY = 'plant-log-apikey-a9d0';

const capture = (level = 'trace') => {
  const lines: string[] = [];
  const log = createLogger(level, { write: (line: string) => void lines.push(line) });
  return { log, lines, text: () => lines.join('') };
};

describe('createLogger', () => {
  test('masks secret header values in a logged request, at any depth, and keeps the rest', () => {
    const { log, lines, text } = capture();
    const request = {
      url: 'https://example.com/hook',
      headers: { Authorization: SECRET, 'X-Api-Key': API_KEY, 'Content-Type': 'application/json' },
    };
    log.info({ taskId: 't1', request, batch: [{ headers: { 'x-auth-token': API_KEY } }] }, 'attempt');
    expect(lines).toHaveLength(1);
    expect(text()).not.toContain('plant-log');
    const line = JSON.parse(lines[0] as string);
    expect(line.request.headers).toStrictEqual({
      Authorization: SECRET_MASK,
      'X-Api-Key': SECRET_MASK,
      'Content-Type': 'application/json',
    });
    expect(line.batch[0].headers['x-auth-token']).toBe(SECRET_MASK);
    expect(line).toMatchObject({ taskId: 't1', msg: 'attempt', request: { url: 'https://example.com/hook' } });
  });

  test("masks top-level secret fields of a child logger's line", () => {
    const { log, text } = capture();
    log.child({ component: 'processor' }).warn({ authorization: SECRET, cookie: 'sid=plant-log-cookie' }, 'x');
    expect(text()).not.toContain('plant-log');
    expect(JSON.parse(text())).toMatchObject({ component: 'processor', authorization: SECRET_MASK });
  });

  test("masks a child logger's bindings, at any depth and in its own children", () => {
    const { log, lines, text } = capture();
    const child = log.child({
      component: 'processor',
      authorization: SECRET,
      request: { headers: { 'X-Api-Key': API_KEY, Accept: '*/*' } },
    });
    child.info('first');
    child.child({ taskId: 't1', apikey: API_KEY }).info('second');
    expect(lines).toHaveLength(2);
    expect(text()).not.toContain('plant-log');
    const [first, second] = lines.map((l) => JSON.parse(l));
    expect(first).toMatchObject({
      component: 'processor',
      authorization: SECRET_MASK,
      request: { headers: { 'X-Api-Key': SECRET_MASK, Accept: '*/*' } },
      msg: 'first',
    });
    expect(second).toMatchObject({ component: 'processor', taskId: 't1', apikey: SECRET_MASK, msg: 'second' });
  });

  test('masks secrets an error carries, and keeps its message and stack', () => {
    const { log, text } = capture();
    const err = Object.assign(new Error('target refused'), { request: { headers: { Authorization: SECRET } } });
    log.error({ err }, 'attempt could not be recorded');
    log.error(err);
    expect(text()).not.toContain('plant-log');
    const [first] = text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(first.err).toMatchObject({
      message: 'target refused',
      request: { headers: { Authorization: SECRET_MASK } },
    });
    expect(first.err.stack).toContain('target refused');
  });

  test('masks secrets an error carries under any key, in arrays and in child bindings, and keeps its message', () => {
    const { log, lines, text } = capture();
    const err = () => Object.assign(new Error('target refused'), { headers: { Authorization: SECRET } });
    log.error({ error: err() }, 'one');
    log.warn({ failures: [err()], context: { cause: err() } }, 'two');
    log.child({ component: 'processor', lastError: err() }).info('three');
    expect(lines).toHaveLength(3);
    expect(text()).not.toContain('plant-log');
    const [one, two, three] = lines.map((l) => JSON.parse(l));
    const masked = { type: 'Error', message: 'target refused', headers: { Authorization: SECRET_MASK } };
    expect(one.error).toMatchObject(masked);
    expect(one.error.stack).toContain('target refused');
    expect(two.failures[0]).toMatchObject(masked);
    expect(two.context.cause).toMatchObject(masked);
    expect(three.lastError).toMatchObject(masked);
  });

  test('masks secrets in errors fastify logs through the same logger', async () => {
    const { log, text } = capture();
    const app = Fastify({ loggerInstance: log as FastifyBaseLogger });
    app.get('/boom', async () => {
      throw Object.assign(new Error('boom'), { headers: { 'X-Api-Key': API_KEY } });
    });
    const res = await app.inject({ method: 'GET', url: '/boom', headers: { authorization: SECRET } });
    await app.close();
    expect(res.statusCode).toBe(500);
    expect(text()).toContain('boom');
    expect(text()).not.toContain('plant-log');
  });
});

describe('maskSecrets', () => {
  test('never changes the object it is given', () => {
    const object = { headers: { Authorization: SECRET } };
    const masked = maskSecrets(object);
    expect(object.headers.Authorization).toBe(SECRET);
    expect(masked.headers.Authorization).toBe(SECRET_MASK);
  });

  test('returns an object without secrets as it is', () => {
    const object = { taskId: 't1', nested: { status: 200, list: [1, 'a', { ok: true }] } };
    expect(maskSecrets(object)).toBe(object);
  });

  test('leaves class instances alone and stops at a bounded depth', () => {
    const map = new Map([['Authorization', SECRET]]);
    expect(maskSecrets({ map }).map).toBe(map);
    type Deep = { next?: Deep; authorization?: string };
    const deep: Deep = {};
    deep.next = deep; // a cycle ends at the depth bound instead of overflowing the stack
    expect(() => maskSecrets(deep)).not.toThrow();
  });
});
