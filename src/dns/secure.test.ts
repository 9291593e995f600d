import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnssecDns, DNSSEC_TOOLS, type DnssecDns } from '../../test/helpers/dnssec.ts';
import { describeWithPeers } from '../../test/helpers/peers.ts';
import { createSecureResolver, parseServer, type SecureResolver } from './secure.ts';
import { DnsError } from './resolver.ts';

const TLSA_HEX = createHash('sha256').update('sealgate test SPKI').digest('hex');
const BIG_TXT = Array.from({ length: 12 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(198)}`);

describeWithPeers(DNSSEC_TOOLS, 'secure resolver against a validating unbound', () => {
  let world: DnssecDns;
  let resolver: SecureResolver;

  beforeAll(async () => {
    world = await startDnssecDns([
      {
        name: 'secure.test',
        dnssec: 'signed',
        records: [
          '@ MX 10 mx',
          '@ MX 20 mx2.insecure.test.',
          'mx A 127.0.0.10',
          `_25._tcp.mx TLSA 3 1 1 ${TLSA_HEX}`,
          '@ TXT "v=spf1 " "-all"',
          'alias CNAME mx',
          ...BIG_TXT.map((text) => `big TXT "${text}"`),
        ],
      },
      { name: 'bogus.test', dnssec: 'bogus', records: ['@ MX 10 mx', 'mx A 127.0.0.20', `_25._tcp.mx TLSA 3 1 1 ${TLSA_HEX}`] },
      { name: 'insecure.test', dnssec: 'unsigned', records: ['@ MX 10 mx', 'mx A 127.0.0.30'] },
    ]);
    resolver = createSecureResolver({ servers: world.servers, timeoutMs: 3000 });
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('marks answers from the signed zone secure, with the records', async () => {
    const mx = await resolver.query('secure.test', 'MX');
    expect(mx).toMatchObject({ rcode: 'NOERROR', secure: true, cnames: [] });
    expect(mx.records.sort((a, b) => a.priority - b.priority)).toEqual([
      { exchange: 'mx.secure.test', priority: 10 },
      { exchange: 'mx2.insecure.test', priority: 20 },
    ]);
    expect(await resolver.query('mx.secure.test', 'A')).toEqual({ rcode: 'NOERROR', secure: true, records: ['127.0.0.10'], cnames: [] });
    expect(await resolver.query('secure.test', 'TXT')).toMatchObject({ secure: true, records: ['v=spf1 -all'] });
  });

  it('decodes TLSA records', async () => {
    const tlsa = await resolver.query('_25._tcp.mx.secure.test', 'TLSA');
    expect(tlsa.rcode).toBe('NOERROR');
    expect(tlsa.secure).toBe(true);
    expect(tlsa.records).toHaveLength(1);
    expect(tlsa.records[0]).toMatchObject({ usage: 3, selector: 1, matchingType: 1 });
    expect(tlsa.records[0].data.toString('hex')).toBe(TLSA_HEX);
  });

  it('follows a CNAME and reports the chain', async () => {
    expect(await resolver.query('alias.secure.test', 'A')).toEqual({ rcode: 'NOERROR', secure: true, records: ['127.0.0.10'], cnames: ['mx.secure.test'] });
    expect(await resolver.query('alias.secure.test', 'CNAME')).toMatchObject({ secure: true, records: ['mx.secure.test'], cnames: [] });
  });

  it('proves non-existence securely: NXDOMAIN and NODATA', async () => {
    expect(await resolver.query('nope.secure.test', 'A')).toEqual({ rcode: 'NXDOMAIN', secure: true, records: [], cnames: [] });
    expect(await resolver.query('_25._tcp.nope.secure.test', 'TLSA')).toMatchObject({ rcode: 'NXDOMAIN', secure: true });
    expect(await resolver.query('mx.secure.test', 'AAAA')).toEqual({ rcode: 'NOERROR', secure: true, records: [], cnames: [] });
  });

  it('says insecure for the unsigned zone, with the records', async () => {
    expect(await resolver.query('insecure.test', 'MX')).toEqual({ rcode: 'NOERROR', secure: false, records: [{ exchange: 'mx.insecure.test', priority: 10 }], cnames: [] });
    expect(await resolver.query('mx.insecure.test', 'A')).toMatchObject({ secure: false, records: ['127.0.0.30'] });
  });

  it('returns SERVFAIL for the bogus zone', async () => {
    expect(await resolver.query('bogus.test', 'MX')).toEqual({ rcode: 'SERVFAIL', secure: false, records: [], cnames: [] });
    expect(await resolver.query('_25._tcp.mx.bogus.test', 'TLSA')).toMatchObject({ rcode: 'SERVFAIL', secure: false, records: [] });
  });

  it('retries over TCP when the UDP answer is truncated', async () => {
    const big = await resolver.query('big.secure.test', 'TXT');
    expect(big.secure).toBe(true);
    expect(big.records.sort()).toEqual([...BIG_TXT].sort());
  });
});

/** A scripted UDP server on loopback: `reply` gets each query and returns the datagrams to send back. */
async function fakeServer(reply: (query: DecodedPacket) => Buffer[]): Promise<{ server: string; queries: DecodedPacket[]; close(): void }> {
  const socket = dgram.createSocket('udp4');
  const queries: DecodedPacket[] = [];
  socket.on('message', (message, rinfo) => {
    const query = dnsPacket.decode(message);
    queries.push(query);
    for (const datagram of reply(query)) socket.send(datagram, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { server: `127.0.0.1:${socket.address().port}`, queries, close: () => socket.close() };
}

function answerTo(query: DecodedPacket, id = query.id, ad = true): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (ad ? dnsPacket.AUTHENTIC_DATA : 0),
    questions: query.questions,
    answers: [{ type: 'A', name: query.questions?.[0]?.name ?? '', ttl: 60, data: '192.0.2.1' }],
  });
}

describe('secure resolver wire handling', () => {
  it('asks with RD, AD, and EDNS0 (1232 bytes, DO)', async () => {
    const fake = await fakeServer((q) => [answerTo(q)]);
    try {
      const answer = await createSecureResolver({ servers: [fake.server] }).query('host.example', 'A');
      expect(answer).toEqual({ rcode: 'NOERROR', secure: true, records: ['192.0.2.1'], cnames: [] });
      const query = fake.queries[0];
      expect(query.flag_rd && query.flag_ad).toBe(true);
      const opt = query.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize: number; flag_do: boolean };
      expect(opt).toMatchObject({ udpPayloadSize: 1232, flag_do: true });
    } finally {
      fake.close();
    }
  });

  it('ignores an answer with the wrong id and takes the right one', async () => {
    const fake = await fakeServer((q) => [answerTo(q, (q.id! + 1) % 65536, false), answerTo(q, q.id, true)]);
    try {
      expect(await createSecureResolver({ servers: [fake.server] }).query('host.example', 'A')).toMatchObject({ secure: true });
    } finally {
      fake.close();
    }
  });

  it('throws a transient DnsError when no server answers, after trying each', async () => {
    const silent = await fakeServer(() => []);
    try {
      const started = Date.now();
      const error = await createSecureResolver({ servers: [silent.server, silent.server], timeoutMs: 200 })
        .query('host.example', 'MX')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DnsError);
      expect(error).toMatchObject({ kind: 'transient', code: 'ETIMEOUT' });
      expect(silent.queries).toHaveLength(2);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      silent.close();
    }
  });

  it('parses server addresses and rejects names', () => {
    expect(parseServer('127.0.0.1')).toEqual({ host: '127.0.0.1', port: 53, family: 4 });
    expect(parseServer('127.0.0.1:5353')).toEqual({ host: '127.0.0.1', port: 5353, family: 4 });
    expect(parseServer('::1')).toEqual({ host: '::1', port: 53, family: 6 });
    expect(parseServer('[::1]:5353')).toEqual({ host: '::1', port: 5353, family: 6 });
    expect(() => parseServer('dns.example:53')).toThrow(/not an IP address/);
  });
});
