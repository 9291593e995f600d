import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanDataDir } from '../helpers/data-dir-scan.ts';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { httpsClient } from '../helpers/portal-socket.ts';
import { tempDir, waitForPort, freePort } from '../helpers/ports.ts';
import { multipart } from '../helpers/web-inject.ts';

/*
 * Issue 10 item 7: the console shows each message's subject and attachment names, so the
 * server keeps them in a form it can open while the message lives. They are sealed under a
 * key from the message's server share (pickup/sender-view.ts): once the sender retracts, a
 * copy of the data dir taken WITH the master key (test/helpers/data-dir-scan.ts, which also
 * knows how to open sender views) must hold no trace of them. Before the retraction the same
 * scan finds them in the sender view (the positive control: the scan can see them).
 */

const run = promisify(execFile);
const PASSWORD = 'correct horse battery staple';
const SUBJECT = 'Biopsy results Kowalski 7Q2X';
const FILE = 'histology-kowalski-7Q2X.pdf';

describe('i10-07 a retracted message leaves no subject or file name in the data dir', () => {
  const temp = tempDir('sg-i10-07-');
  let gateway: GatewayProcess;
  let webPort: number;
  beforeAll(async () => {
    webPort = await freePort();
    gateway = await startGateway(path.join(temp.dir, 'gw'), { web: { port: webPort } });
    await waitForPort('127.0.0.1', webPort);
    expect((await gateway.cli('user', 'add', 'alice@example.test', '--password', PASSWORD)).code).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await gateway?.kill();
    temp.cleanup();
  });

  let copies = 0;
  async function scan() {
    const copy = path.join(temp.dir, `copy-${++copies}`);
    await run('cp', ['-a', path.join(gateway.dir, 'data'), copy]).catch(() => undefined); // a file may vanish mid-copy
    const masterKey = Buffer.from(readFileSync(path.join(copy, 'master.key'), 'utf8').trim(), 'base64');
    return scanDataDir(copy, masterKey, { subject: SUBJECT, file: FILE });
  }

  it('finds them in the sender view while the message lives, nowhere once it is retracted', { timeout: 60_000 }, async () => {
    const sender = httpsClient(webPort);
    await sender.request('GET', '/console/login');
    const csrf = sender.cookie('__Host-sg-csrf')!;
    expect((await sender.request('POST', '/console/login', { _csrf: csrf, username: 'alice@example.test', password: PASSWORD })).headers.location).toBe('/console');
    const form = multipart([['_csrf', csrf], ['recipients', 'bob@dest.test, carol@dest.test'], ['subject', SUBJECT], ['text', 'See attached.'], ['verification', 'link'], ['weakLinkOk', 'on'], ['days', '7']],
      [{ filename: FILE, type: 'application/pdf', content: Buffer.from('%PDF-1.4 histology') }]);
    expect((await sender.request('POST', '/console/compose', { type: form.type, bytes: form.body })).headers.location).toBe('/console?sent=2');
    const list = await sender.request('GET', `/console?q=${encodeURIComponent('7q2x')}`);
    expect(list.body).toContain(SUBJECT);
    expect(list.body).toContain(FILE);
    const id = /href="\/console\/m\/([A-Za-z0-9_-]{22})"/.exec(list.body)![1];

    const live = await scan();
    expect(live.filter((f) => f.where.endsWith('sender view')).map((f) => f.secret).sort(), 'the scan opens the sender view of a live message (positive control)')
      .toEqual(['file', 'file', 'subject', 'subject']);

    expect((await sender.request('POST', `/console/m/${id}/retract-all`, { _csrf: csrf, confirm: 'yes' })).headers.location).toBe(`/console/m/${id}?done=retracted-all`);
    expect((await sender.request('GET', `/console?q=${encodeURIComponent('7q2x')}`)).body).not.toContain(SUBJECT);
    const after = await scan();
    expect(after.map((f) => `${f.secret} in ${f.where}`)).toEqual([]);
    // And the sealed view itself is gone from the rows, not only its key.
    const db = new Database(path.join(temp.dir, `copy-${copies}`, 'sealgate.db'), { readonly: true });
    try {
      expect(db.prepare('select sender_view_sealed from pickup_messages').all()).toEqual([{ sender_view_sealed: null }, { sender_view_sealed: null }]);
    } finally {
      db.close();
    }
  });
});
