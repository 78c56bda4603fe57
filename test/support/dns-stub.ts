import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';

export type DnsQuery = Readonly<{ name: string; type: 'A' | 'AAAA' | number }>;
/** The addresses to answer for a query, or null for NXDOMAIN; every answer has TTL 0 (never cached). */
export type DnsAnswers = (query: DnsQuery) => readonly string[] | null;

const TYPE_A = 1;
const TYPE_AAAA = 28;

const readName = (msg: Buffer, start: number): { name: string; end: number } => {
  const labels: string[] = [];
  let i = start;
  for (let len = msg[i] ?? 0; len > 0; len = msg[i] ?? 0) {
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('ascii'));
    i += len + 1;
  }
  return { name: labels.join('.').toLowerCase(), end: i + 1 };
};

const v6Bytes = (address: string): Buffer => {
  const [head = '', tail = ''] = address.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = address.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  for (const [i, g] of all.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return out;
};

/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP) for tests: answers A and AAAA queries from `answers`,
 * with TTL 0, so that each lookup asks again (what a DNS-rebinding attacker relies on).
 */
export const startDnsStub = async (answers: DnsAnswers) => {
  const socket = createSocket('udp4');
  const queries: DnsQuery[] = [];
  socket.on('message', (msg, from) => {
    if (msg.length < 12) return;
    const { name, end } = readName(msg, 12);
    const qtype = msg.readUInt16BE(end);
    const query: DnsQuery = { name, type: qtype === TYPE_A ? 'A' : qtype === TYPE_AAAA ? 'AAAA' : qtype };
    queries.push(query);
    const found = answers(query);
    const records = (found ?? []).filter((a) => (qtype === TYPE_A ? isIPv4(a) : qtype === TYPE_AAAA && !isIPv4(a)));
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0); // id
    header.writeUInt16BE(0x8400 | 0x0100 | (found === null ? 3 : 0), 2); // QR, AA, RD; NXDOMAIN when null
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(records.length, 6);
    const question = msg.subarray(12, end + 4);
    const rrs = records.map((address) => {
      const data = qtype === TYPE_A ? Buffer.from(address.split('.').map(Number)) : v6Bytes(address);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
      rr.writeUInt16BE(qtype, 2);
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(0, 6); // TTL 0
      rr.writeUInt16BE(data.length, 10);
      return Buffer.concat([rr, data]);
    });
    socket.send(Buffer.concat([header, question, ...rrs]), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    server: `127.0.0.1:${socket.address().port}`,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
};
