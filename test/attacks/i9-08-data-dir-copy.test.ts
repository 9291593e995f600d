import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { scanDataDir, type Finding } from '../helpers/data-dir-scan.ts';
import { startDns, type DnsServer } from '../helpers/dns.ts';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { describeWithPeers } from '../helpers/peers.ts';
import { freePort, tempDir, until } from '../helpers/ports.ts';
import { startRecordingSmtp, type RecordingSmtp } from '../helpers/recording-smtp.ts';
import { createTestSchema, hasPostgres, type TestSchema } from '../helpers/stores.ts';
import { submitAs } from '../helpers/swaks.ts';

/*
 * Issue 9 item 8: a copy of the data dir (database, WAL, blobs, shares, master.key) taken at
 * each stage of a pickup's life, scanned WITH the master key (test/helpers/data-dir-scan.ts),
 * must not yield what that stage has finished with: the submitted message (and the
 * passphrase in its Sealgate-Secure header) once sealed, the notices' message passwords once
 * delivered, the message text once nobody but the recipient holds the password, and a reply
 * once the message it answers is retracted or expired. Copies are taken with `cp -a` while
 * the gateway runs (as an attacker with read access would) and once after it stopped.
 */
const run = promisify(execFile);
const USER = 'alice@sender.test';
const LOGIN = 'login password of alice';
const PASSPHRASE = 'Tresor-Passphrase 7319 lila';
// Non-ASCII, submitted quoted-printable: the scan looks for it decoded and encoded.
const TEXT = 'Kontostand über 9000 Euro, Schließfach 42';
const TEXT_QP = 'Kontostand =C3=BCber 9000 Euro, Schlie=C3=9Ffach 42';
const REPLIES = ['Antwort eins: der Schluessel liegt unter der Matte', 'Antwort zwei: die Zahl ist 31415926'];
const RECIPIENTS = ['bob@dest.test', 'carol@dest.test'];

/** A browser's worth of HTTPS: cookies kept, the CSRF field read from each page. */
function portalClient(port: number) {
  const cookies = new Map<string, string>();
  let csrf = '';
  const agent = new https.Agent({ rejectUnauthorized: false });
  function request(method: 'GET' | 'POST', url: string, body?: { type: string; data: Buffer }): Promise<{ status: number; text: string; location?: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1', port, path: url, method, agent,
        headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...(body ? { 'content-type': body.type, 'content-length': body.data.length } : {}) },
      }, (res) => {
        for (const line of res.headers['set-cookie'] ?? []) {
          const [pair] = line.split(';');
          const at = pair.indexOf('=');
          cookies.set(pair.slice(0, at), pair.slice(at + 1));
        }
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          csrf = /name="_csrf" value="([^"]+)"/.exec(text)?.[1] ?? csrf;
          resolve({ status: res.statusCode ?? 0, text, location: res.headers.location });
        });
      });
      req.on('error', reject);
      req.end(body?.data);
    });
  }
  const form = (fields: Record<string, string>) => ({ type: 'application/x-www-form-urlencoded', data: Buffer.from(new URLSearchParams({ _csrf: csrf, ...fields }).toString()) });
  const multipart = (fields: Record<string, string>) => {
    const boundary = 'sgboundary7319';
    const data = Buffer.from(Object.entries({ _csrf: csrf, ...fields }).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('') + `--${boundary}--\r\n`);
    return { type: `multipart/form-data; boundary=${boundary}`, data };
  };
  return { request, form, multipart };
}

describeWithPeers(['swaks', 'dnsmasq'], 'issue 9 item 8: a copy of the data dir and the master key', () => {
  const temp = tempDir('i9-08');
  let dns: DnsServer;
  let rx: RecordingSmtp;
  let gateway: GatewayProcess;
  let webPort: number;
  let holdNotices = true;

  beforeAll(async () => {
    rx = await startRecordingSmtp({ reply: (_line, stage) => (stage === 'rcpt' && holdNotices ? '451 4.3.0 Try again later' : undefined) });
    dns = await startDns({ mx: [{ domain: 'dest.test', host: 'mx.dest.test', pref: 10 }], a: [{ name: 'mx.dest.test', ip: rx.host }] });
    webPort = await freePort();
  });

  afterAll(async () => {
    await gateway?.kill();
    await rx?.stop();
    await dns?.stop();
    temp.cleanup();
  });

  it('yields no secret once its stage has passed', { timeout: 120_000 }, async () => {
    const dataDir = () => path.join(gateway.dir, 'data');
    const live = <T>(read: (db: Database.Database) => T): T => {
      const db = new Database(path.join(dataDir(), 'sealgate.db'), { fileMustExist: true });
      try {
        db.pragma('busy_timeout = 5000');
        return read(db);
      } finally {
        db.close();
      }
    };
    let copies = 0;
    const secrets: Record<string, string> = { text: TEXT, passphrase: PASSPHRASE };
    const violations: string[] = [];
    const record: string[] = [];
    /** Copies the data dir as it is now and scans it; `allowed` says which findings the stage permits. */
    let last = Date.now();
    async function stage(name: string, allowed: (f: Finding) => boolean) {
      const reached = Date.now() - last;
      const copy = path.join(temp.dir, `copy-${++copies}-${name}`);
      await run('cp', ['-a', dataDir(), copy]).catch(() => undefined); // a file may vanish mid-copy
      const masterKey = Buffer.from(readFileSync(path.join(copy, 'master.key'), 'utf8').trim(), 'base64');
      const findings = await scanDataDir(copy, masterKey, secrets, { guesses: [PASSPHRASE] });
      record.push(`${name} (${reached} ms to reach, ${Date.now() - last - reached} ms to scan): ${findings.map((f) => `${f.secret} in ${f.where}`).join('; ') || 'nothing'}`);
      last = Date.now();
      for (const f of findings) if (!allowed(f)) violations.push(`${name}: ${f.secret} in ${f.where}`);
      return findings;
    }

    // 1. Submitted: the pickup conversion fails at first (a file stands where the share folder
    //    goes, so sealing defers with 451), and the copy holds exactly the queued original.
    const shareDir = path.join(temp.dir, 'gw', 'data', 'pickup-shares');
    mkdirSync(path.dirname(shareDir), { recursive: true, mode: 0o700 });
    writeFileSync(shareDir, 'not a folder');
    gateway = await startGateway(path.join(temp.dir, 'gw'), {
      delivery: { dnsServers: dns.servers, port: rx.port, connectTimeoutMs: 3000, commandTimeoutMs: 10_000, ipFamilies: [4], mtaSts: { enabled: false } },
      queue: { retryScheduleMs: [200], pollIntervalMs: 100 },
      web: { host: '127.0.0.1', port: webPort, publicUrl: `https://127.0.0.1:${webPort}` },
      pickup: { readNotice: false },
    });
    expect((await gateway.cli('user', 'add', USER, '--password', LOGIN)).code).toBe(0);
    const submit = submitAs(() => gateway.ports.submission, LOGIN);
    await submit(RECIPIENTS.join(','), [
      '--header', 'Subject: [secure] Kontoauszug', '--header', `Sealgate-Secure: passphrase=${PASSPHRASE}`,
      '--header', 'Content-Type: text/plain; charset=utf-8', '--header', 'Content-Transfer-Encoding: quoted-printable', '--body', TEXT_QP,
    ]);
    await until(async () => live((db) => (db.prepare("select count(*) as n from recipients where attempts > 0 and state = 'queued'").get() as { n: number }).n === 2), 10_000, 'the first (deferred) sealing attempt');
    const submitted = await stage('submitted', () => true);
    expect(submitted.map((f) => f.secret), 'the scan finds the queued original (positive control)').toEqual(expect.arrayContaining(['text', 'passphrase']));

    // 2. Sealed: the pickups exist, the original is settled, the notices wait (receiver says 451).
    rmSync(shareDir);
    await until(async () => live((db) => {
      const original = db.prepare("select count(*) as n from messages where mail_from != '' and done_at is not null").get() as { n: number };
      const notices = db.prepare("select count(*) as n from messages where mail_from = ''").get() as { n: number };
      return original.n === 1 && notices.n === 2;
    }), 15_000, 'the pickups sealed and the original settled');
    await stage('sealed', (f) => f.secret !== 'passphrase' && (f.secret !== 'text' || f.where.startsWith('pickup ')));

    // 3. Notices delivered: the message passwords now live only in the recipients' mailboxes.
    holdNotices = false;
    await rx.until(2, 15_000);
    await until(async () => live((db) => (db.prepare('select count(*) as n from messages where done_at is null').get() as { n: number }).n === 0), 10_000, 'the notices settled');
    const links = rx.transactions().map((t) => {
      const data = t.data.toString('utf8').replace(/=\r\n/g, '');
      const [, id, password] = /\/m\/([A-Za-z0-9_-]{22})#([0-9A-Z-]{34})/.exec(data) ?? [];
      return { rcpt: t.rcptTo[0].toString(), id, password };
    });
    links.sort((a, b) => (a.rcpt < b.rcpt ? -1 : 1)); // bob, then carol
    expect(links.every((l) => l.id && l.password)).toBe(true);
    links.forEach((l, i) => (secrets[`password${i + 1}`] = l.password));
    REPLIES.forEach((r, i) => (secrets[`reply${i + 1}`] = r));
    await stage('notices-delivered', () => false);

    // 4. Each recipient opens the message and replies. The sender may read the replies.
    for (const [i, link] of links.entries()) {
      const portal = portalClient(webPort);
      expect((await portal.request('GET', `/m/${link.id}`)).status).toBe(200);
      const opened = await portal.request('POST', `/m/${link.id}`, portal.form({ password: link.password, secret: PASSPHRASE }));
      expect(opened.status, opened.text.slice(0, 500)).toBe(303);
      const read = await portal.request('GET', `/m/${link.id}/read`);
      expect(read.text).toContain('Kontostand');
      const replied = await portal.request('POST', `/m/${link.id}/reply`, portal.multipart({ text: REPLIES[i] }));
      expect(replied.status, replied.text.slice(0, 500)).toBe(303);
    }
    await stage('replied', (f) => f.secret === 'reply1' || f.secret === 'reply2');

    // 5. The sender retracts bob's message: its reply goes with it.
    const sender = portalClient(webPort);
    await sender.request('GET', '/console/login');
    expect((await sender.request('POST', '/console/login', sender.form({ username: USER, password: LOGIN }))).status).toBe(303);
    await sender.request('GET', `/console/m/${links[0].id}`);
    expect((await sender.request('POST', `/console/m/${links[0].id}/retract`, sender.form({ confirm: 'yes' }))).status).toBe(303);
    await stage('retracted', (f) => f.secret === 'reply2');

    // 6. Carol's message expires (its time set in the past; the next look at it expires it).
    live((db) => db.prepare('update pickup_messages set expires_at = 1 where id = ?').run(links[1].id));
    expect((await portalClient(webPort).request('GET', `/m/${links[1].id}`)).status).toBe(410);
    await stage('expired', () => false);

    // 7. Stopped: what stays on disk for good.
    await gateway.kill();
    await stage('stopped', () => false);

    process.stdout.write(`data-dir scan per stage:\n  ${record.join('\n  ')}\n`);
    expect(violations).toEqual([]);
  });
});

/*
 * The same promise on PostgreSQL, smaller: the schema's live rows (every table) and the data
 * dir, scanned with the master key once the pickup is sealed and once its notice is out. Dead
 * tuples, WAL segments and backups are out of a SELECT's reach: there only the destroyed keys
 * count (docs/flow.md, "Encryption at rest and deletion").
 */
const postgresUp = await hasPostgres();

describeWithPeers(['swaks', 'dnsmasq'], 'issue 9 item 8 on PostgreSQL: the schema and the data dir', () => {
  const temp = tempDir('i9-08-pg');
  let dns: DnsServer;
  let rx: RecordingSmtp;
  let gateway: GatewayProcess;
  let schema: TestSchema | undefined;
  let holdNotices = true;

  beforeAll(async () => {
    if (!postgresUp) return;
    rx = await startRecordingSmtp({ reply: (_line, stage) => (stage === 'rcpt' && holdNotices ? '451 4.3.0 Try again later' : undefined) });
    dns = await startDns({ mx: [{ domain: 'dest.test', host: 'mx.dest.test', pref: 10 }], a: [{ name: 'mx.dest.test', ip: rx.host }] });
    schema = await createTestSchema('atrest');
  });

  afterAll(async () => {
    await gateway?.kill();
    await rx?.stop();
    await dns?.stop();
    await schema?.drop();
    temp.cleanup();
  });

  it.skipIf(!postgresUp)('yields no secret from the live rows once the notice is delivered', { timeout: 120_000 }, async () => {
    const client = new pg.Client({ connectionString: schema!.url });
    await client.connect();
    try {
      const dump = async () => {
        const names = await client.query<{ table_name: string }>('select table_name from information_schema.tables where table_schema = $1', [schema!.name]);
        const tables: Record<string, Record<string, unknown>[]> = {};
        for (const { table_name: name } of names.rows) tables[name] = (await client.query(`select * from "${name}"`)).rows as Record<string, unknown>[];
        return tables;
      };
      const count = async (where: string) => Number((await client.query<{ n: string }>(`select count(*) as n from messages where ${where}`)).rows[0].n);
      gateway = await startGateway(path.join(temp.dir, 'gw'), {
        store: { url: schema!.url },
        delivery: { dnsServers: dns.servers, port: rx.port, connectTimeoutMs: 3000, commandTimeoutMs: 10_000, ipFamilies: [4], mtaSts: { enabled: false } },
        queue: { retryScheduleMs: [200], pollIntervalMs: 100 },
        pickup: { readNotice: false },
      });
      expect((await gateway.cli('user', 'add', USER, '--password', LOGIN)).code).toBe(0);
      await submitAs(() => gateway.ports.submission, LOGIN)(RECIPIENTS[0], [
        '--header', 'Subject: [secure] Kontoauszug', '--header', `Sealgate-Secure: passphrase=${PASSPHRASE}`,
        '--header', 'Content-Type: text/plain; charset=utf-8', '--header', 'Content-Transfer-Encoding: quoted-printable', '--body', TEXT_QP,
      ]);
      const masterKey = Buffer.from(readFileSync(path.join(gateway.dir, 'data', 'master.key'), 'utf8').trim(), 'base64');
      const scan = async (secrets: Record<string, string>) => {
        const copy = path.join(temp.dir, `copy-${Date.now()}`);
        await run('cp', ['-a', path.join(gateway.dir, 'data'), copy]).catch(() => undefined);
        return scanDataDir(copy, masterKey, secrets, { guesses: [PASSPHRASE], tables: await dump() });
      };

      await until(async () => (await count("mail_from != '' and done_at is not null")) === 1 && (await count("mail_from = ''")) === 1, 20_000, 'the pickup sealed');
      const sealed = await scan({ text: TEXT, passphrase: PASSPHRASE });
      // Positive control: the queued notice (body key in message_keys) opens the pickup.
      expect(sealed.map((f) => f.where).filter((w) => w.startsWith('pickup ')).length, JSON.stringify(sealed)).toBeGreaterThan(0);
      expect(sealed.filter((f) => f.secret === 'passphrase' || !f.where.startsWith('pickup '))).toEqual([]);

      holdNotices = false;
      await rx.until(1, 15_000);
      await until(async () => (await count('done_at is null')) === 0, 10_000, 'the notice settled');
      const password = /#([0-9A-Z-]{34})/.exec(rx.transactions()[0].data.toString('utf8').replace(/=\r\n/g, ''))?.[1];
      expect(password).toBeDefined();
      expect(await scan({ text: TEXT, passphrase: PASSPHRASE, password: password! })).toEqual([]);
    } finally {
      await client.end();
    }
  });
});
