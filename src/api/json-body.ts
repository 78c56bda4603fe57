import type { FastifyInstance } from 'fastify';

/** An enqueue body nests 3 levels deep, a batch 5; anything far deeper is refused before it is parsed. */
export const MAX_JSON_DEPTH = 16;

/**
 * How deep `text` nests objects and arrays, scanning no further than one level past `limit`. Brackets inside
 * strings do not count. A scan of the text costs far less than parsing 100,000 nested arrays. A string is
 * skipped with indexOf to its closing quote (one not escaped by an odd run of backslashes): most of a task's text
 * is strings.
 */
export const jsonDepth = (text: string, limit = MAX_JSON_DEPTH): number => {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = text.indexOf('"', i + 1);
      while (end !== -1) {
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (end === -1) return deepest; // an unterminated string: nothing after it counts
      i = end;
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
};

/**
 * Replaces fastify's JSON body parser with one that refuses bodies nested deeper than MAX_JSON_DEPTH (400)
 * before JSON.parse, then parses as fastify does (a `__proto__` or `constructor.prototype` key is a 400).
 */
export const registerJsonBodyParser = (app: FastifyInstance): void => {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (jsonDepth(text) > MAX_JSON_DEPTH) {
      const err = Object.assign(new Error(`(body): JSON nested deeper than ${MAX_JSON_DEPTH} levels`), {
        statusCode: 400,
      });
      done(err, undefined);
      return;
    }
    parse(req, text, done);
  });
};
