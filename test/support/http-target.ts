import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Received = Readonly<{
  path: string;
  method: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}>;

export type Handler = (req: Received, res: ServerResponse) => void;

/** A real HTTP target on 127.0.0.1 that records every request it receives, answered by `handler`. */
export const startTarget = async (handler: Handler) => {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        path: req.url ?? '',
        method: req.method ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
        at: Date.now(),
      };
      received.push(r);
      handler(r, res);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
};

export const answer = (res: ServerResponse, status: number, body = '') => {
  res.statusCode = status;
  res.end(body);
};
