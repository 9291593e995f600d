/**
 * DNSSEC-aware queries for DANE (RFC 7672): we need to know whether the validating resolver
 * vouched for an answer (the AD bit). node:dns (c-ares) hides the header flags and never sets
 * DO/AD, so it cannot tell a validated TLSA set from a forged one: hence our own stub client
 * over dns-packet. The AD bit is only as trustworthy as the path to the resolver, so `servers`
 * must be a validating resolver the operator trusts (ideally on loopback).
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import { DnsError, type MxRecord } from './resolver.ts';

export type SecureRecordType = 'MX' | 'A' | 'AAAA' | 'TXT' | 'TLSA' | 'CNAME';

/** RFC 6698 §2.1: certificate usage, selector, matching type, and the association data. */
export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
}

export interface SecureRecordOf {
  MX: MxRecord;
  A: string;
  AAAA: string;
  /** Character-strings of one TXT record joined. */
  TXT: string;
  TLSA: TlsaRecord;
  /** For a CNAME query: the target of the name's CNAME. */
  CNAME: string;
}

export interface SecureAnswer<T extends SecureRecordType = SecureRecordType> {
  /** 'NOERROR' (with no records: NODATA), 'NXDOMAIN', 'SERVFAIL' (from a validator: bogus or broken), or another rcode name. */
  rcode: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | (string & {});
  /** The resolver set AD: every record here (and the denial, for NXDOMAIN/NODATA) validated. */
  secure: boolean;
  records: SecureRecordOf[T][];
  /** CNAME targets followed from the queried name, in order (empty when there was none). */
  cnames: string[];
}

export interface SecureResolver {
  query<T extends SecureRecordType>(name: string, type: T): Promise<SecureAnswer<T>>;
}

export interface SecureResolverOptions {
  /** Validating resolvers, `ip`, `ip:port` or `[ipv6]:port`; tried in order when one does not answer. */
  servers: string[];
  /** Per server and transport (UDP, then TCP when truncated); default 5000. */
  timeoutMs?: number;
}

/** RFC 9715 / DNS flag day 2020: avoids IP fragmentation. */
const EDNS_UDP_SIZE = 1232;
const MAX_CNAME_HOPS = 16;

interface Server {
  host: string;
  port: number;
  family: 4 | 6;
}

export function parseServer(server: string): Server {
  let host = server;
  let port = 53;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (bracketed) {
    host = bracketed[1];
    if (bracketed[2]) port = Number(bracketed[2]);
  } else if (server.split(':').length === 2) {
    const [h, p] = server.split(':');
    host = h;
    port = Number(p);
  }
  const family = net.isIP(host);
  if (family === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`DNS server "${server}" is not an IP address with an optional port (e.g. 127.0.0.1:53 or [::1]:53)`);
  }
  return { host, port, family: family as 4 | 6 };
}

function normalize(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

function buildQuery(id: number, name: string, type: SecureRecordType): Buffer {
  const packet: Packet = {
    type: 'query',
    id,
    // RFC 6840 §5.7: AD in the query asks for the AD bit in the answer without needing CD/DO semantics;
    // DO as well, since some validators only set AD for DO queries.
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA,
    questions: [{ type, name, class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: dnsPacket.DNSSEC_OK, flag_do: true, options: [] }],
  };
  return dnsPacket.encode(packet);
}

/** Null when the datagram is not the answer to our question (late, spoofed or garbage): keep waiting. */
function matchResponse(buf: Buffer, id: number, name: string, type: SecureRecordType): DecodedPacket | null {
  let packet: DecodedPacket;
  try {
    packet = dnsPacket.decode(buf);
  } catch {
    return null;
  }
  if (!packet.flag_qr || packet.id !== id) return null;
  const question = packet.questions?.[0];
  if (packet.questions?.length !== 1 || !question) return null;
  if (normalize(question.name) !== normalize(name) || question.type !== type) return null;
  return packet;
}

function transient(code: string, message: string): DnsError {
  return new DnsError('transient', code, message);
}

function queryUdp(server: Server, query: Buffer, id: number, name: string, type: SecureRecordType, timeoutMs: number): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    let done = false;
    const finish = (error: Error | null, packet?: DecodedPacket) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(packet as DecodedPacket);
    };
    const timer = setTimeout(() => finish(transient('ETIMEOUT', `DNS server ${server.host}:${server.port} did not answer ${type} ${name} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (error: NodeJS.ErrnoException) =>
      finish(transient(error.code ?? 'EUDP', `DNS query ${type} ${name} to ${server.host}:${server.port} failed: ${error.message}`)),
    );
    socket.on('message', (message) => {
      const packet = matchResponse(message, id, name, type);
      if (packet) finish(null, packet);
    });
    // A connected socket only accepts datagrams from the server, and surfaces ICMP refusals as errors.
    socket.connect(server.port, server.host, () => {
      if (!done) socket.send(query);
    });
  });
}

function queryTcp(server: Server, query: Buffer, id: number, name: string, type: SecureRecordType, timeoutMs: number): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let received = Buffer.alloc(0);
    const finish = (error: Error | null, packet?: DecodedPacket) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(packet as DecodedPacket);
    };
    const timer = setTimeout(() => finish(transient('ETIMEOUT', `DNS server ${server.host}:${server.port} did not answer ${type} ${name} over TCP within ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (error: NodeJS.ErrnoException) =>
      finish(transient(error.code ?? 'ETCP', `DNS query ${type} ${name} over TCP to ${server.host}:${server.port} failed: ${error.message}`)),
    );
    socket.on('connect', () => {
      const frame = Buffer.alloc(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      socket.write(frame);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const length = received.readUInt16BE(0);
      if (received.length < 2 + length) return;
      const packet = matchResponse(received.subarray(2, 2 + length), id, name, type);
      if (packet) finish(null, packet);
      else finish(transient('EBADRESP', `DNS server ${server.host}:${server.port} sent a TCP answer that does not match the query ${type} ${name}`));
    });
    socket.on('end', () => finish(transient('ECONNRESET', `DNS server ${server.host}:${server.port} closed TCP before answering ${type} ${name}`)));
  });
}

/** dns-packet decodes TLSA; an unknown-type Buffer is decoded by hand (usage u8, selector u8, matching u8, data). */
export function decodeTlsa(data: unknown): TlsaRecord | null {
  if (Buffer.isBuffer(data)) {
    if (data.length < 3) return null;
    return { usage: data[0], selector: data[1], matchingType: data[2], data: Buffer.from(data.subarray(3)) };
  }
  const tlsa = data as { usage?: number; selector?: number; matchingType?: number; certificate?: Buffer };
  if (typeof tlsa?.usage !== 'number' || !Buffer.isBuffer(tlsa.certificate)) return null;
  return { usage: tlsa.usage, selector: tlsa.selector ?? 0, matchingType: tlsa.matchingType ?? 0, data: Buffer.from(tlsa.certificate) };
}

function txtString(data: unknown): string {
  const chunks = Array.isArray(data) ? data : [data];
  return chunks.map((chunk) => (Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk))).join('');
}

function recordOf(answer: Answer, type: SecureRecordType): unknown {
  const data = (answer as { data?: unknown }).data;
  switch (type) {
    case 'MX': {
      const mx = data as { preference?: number; exchange: string };
      return { exchange: normalize(mx.exchange), priority: mx.preference ?? 0 } satisfies MxRecord;
    }
    case 'TXT':
      return txtString(data);
    case 'TLSA':
      return decodeTlsa(data);
    case 'CNAME':
      return normalize(String(data));
    default:
      return String(data);
  }
}

function rcodeOf(packet: DecodedPacket): string {
  const header = (packet as DecodedPacket & { rcode?: string }).rcode ?? 'NOERROR';
  const opt = packet.additionals?.find((a) => a.type === 'OPT') as { extendedRcode?: number } | undefined;
  if (!opt?.extendedRcode) return header;
  // RFC 6891 §6.1.3: the OPT record carries the upper 8 bits of a 12-bit rcode.
  const low = header === 'NOERROR' ? 0 : Number(/\d+$/.exec(header)?.[0] ?? 0);
  return `RCODE_${(opt.extendedRcode << 4) | low}`;
}

function toAnswer<T extends SecureRecordType>(packet: DecodedPacket, name: string, type: T): SecureAnswer<T> {
  const answers = (packet.answers ?? []).filter((a) => a.type !== 'OPT' && ((a as { class?: string }).class ?? 'IN') === 'IN');
  const cnames: string[] = [];
  let owner = normalize(name);
  if (type !== 'CNAME') {
    for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
      const cname = answers.find((a) => a.type === 'CNAME' && normalize(a.name) === owner);
      if (!cname) break;
      owner = normalize(String((cname as { data: string }).data));
      cnames.push(owner);
    }
  }
  const records = answers
    .filter((a) => a.type === type && normalize(a.name) === owner)
    .map((a) => recordOf(a, type))
    .filter((r) => r !== null) as SecureRecordOf[T][];
  return { rcode: rcodeOf(packet), secure: packet.flag_ad, records, cnames };
}

export function createSecureResolver(options: SecureResolverOptions): SecureResolver {
  if (!options.servers.length) throw new Error('createSecureResolver needs at least one validating DNS server (dns.servers)');
  const servers = options.servers.map(parseServer);
  const timeoutMs = options.timeoutMs ?? 5000;
  return {
    async query<T extends SecureRecordType>(name: string, type: T): Promise<SecureAnswer<T>> {
      let lastError: DnsError | undefined;
      for (const server of servers) {
        const id = randomInt(0, 65536);
        const query = buildQuery(id, name, type);
        try {
          let packet = await queryUdp(server, query, id, name, type, timeoutMs);
          if (packet.flag_tc) packet = await queryTcp(server, query, id, name, type, timeoutMs);
          return toAnswer(packet, name, type);
        } catch (error) {
          if (!(error instanceof DnsError)) throw error;
          lastError = error;
        }
      }
      throw lastError ?? transient('ESERVFAIL', `no DNS server answered ${type} ${name}`);
    },
  };
}
