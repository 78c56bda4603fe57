import Fastify from 'fastify';
import { describe, expect, test } from 'vitest';
import { jsonDepth, MAX_JSON_DEPTH, registerJsonBodyParser } from '../../../src/api/json-body.ts';

describe('jsonDepth', () => {
  test('counts nested objects and arrays', () => {
    expect(jsonDepth('1')).toBe(0);
    expect(jsonDepth('{}')).toBe(1);
    expect(jsonDepth('{"a":[{"b":{}}],"c":[]}')).toBe(4);
    expect(jsonDepth('{"tasks":[{"task":{"headers":{}}}]}')).toBe(5);
  });

  test('brackets inside strings, escaped quotes included, do not count', () => {
    expect(jsonDepth('{"a":"[[[{{{"}')).toBe(1);
    expect(jsonDepth('{"a":"\\"[[[[","b":[1]}')).toBe(2);
    expect(jsonDepth('["\\\\",[[]]]')).toBe(3);
  });

  test('a quote after a run of backslashes ends the string when the run is even', () => {
    expect(jsonDepth('["\\\\\\\\",[[]]]')).toBe(3); // "\\\\": two escaped backslashes, then the end
    expect(jsonDepth('["\\\\\\"[[",[]]')).toBe(2); // "\\\"[[": an escaped backslash, an escaped quote
    expect(jsonDepth('["\\"[[[[",[1]]')).toBe(2);
  });

  test('an unterminated string counts nothing after its quote', () => {
    expect(jsonDepth('[["abc[[[[[[')).toBe(2);
  });

  test('stops scanning once past the limit', () => {
    expect(jsonDepth('['.repeat(100_000), 16)).toBe(17);
  });
});

describe('the JSON body parser', () => {
  const app = async () => {
    const a = Fastify();
    registerJsonBodyParser(a);
    a.post('/', async (req) => ({ got: req.body }));
    await a.ready();
    return a;
  };
  const post = async (payload: string) =>
    (await app()).inject({ method: 'POST', url: '/', payload, headers: { 'content-type': 'application/json' } });

  test(`refuses a body nested deeper than ${MAX_JSON_DEPTH} levels with a 400 that says so`, async () => {
    const res = await post(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toBe(`(body): JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  });

  test('parses a body at the limit', async () => {
    const atLimit = `${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`;
    const res = await post(atLimit);
    expect(res.statusCode).toBe(200);
    expect(res.json().got).toEqual(JSON.parse(atLimit));
  });

  test('still refuses prototype poisoning and bad JSON', async () => {
    expect((await post('{"__proto__":{"x":1}}')).statusCode).toBe(400);
    expect((await post('{"constructor":{"prototype":{"x":1}}}')).statusCode).toBe(400);
    expect((await post('{"a":')).statusCode).toBe(400);
  });
});
