import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { httpsClient } from '../helpers/portal-socket.ts';
import { freePort, tempDir, waitForPort } from '../helpers/ports.ts';
import { multipart } from '../helpers/web-inject.ts';

/*
 * Issue 9 item 9: a console session survived `sealgate user remove` and `user passwd`; the
 * removed user kept composing and sending. Against the real gateway process: log in, change
 * the account with the CLI on the same data dir, and the next compose is refused (redirect to
 * the login page), with nothing sealed and nothing queued.
 */

const PASSWORD = 'correct horse battery staple';

describe('console sessions end when the account is removed or its password changes', () => {
  const tmp = tempDir('sg-i9-09-');
  let gateway: GatewayProcess;
  let webPort: number;
  beforeAll(async () => {
    webPort = await freePort();
    gateway = await startGateway(tmp.dir, { web: { port: webPort } });
    await waitForPort('127.0.0.1', webPort);
    // Both accounts at once: each CLI run is a process of its own (seconds on a busy machine).
    const added = await Promise.all(['alice@example.test', 'carol@example.test'].map((user) => gateway.cli('user', 'add', user, '--password', PASSWORD)));
    for (const result of added) expect(result.code, result.stderr).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await gateway?.kill();
    tmp.cleanup();
  });

  async function loggedIn(user: string) {
    const client = httpsClient(webPort);
    await client.request('GET', '/console/login');
    const csrf = client.cookie('__Host-sg-csrf')!;
    const login = await client.request('POST', '/console/login', { _csrf: csrf, username: user, password: PASSWORD });
    expect(login.headers.location).toBe('/console');
    expect((await client.request('GET', '/console/compose')).status).toBe(200);
    const compose = () => {
      const form = multipart([['_csrf', csrf], ['recipients', 'bob@dest.test'], ['subject', 'after removal'], ['text', 'should never be sealed'], ['verification', 'link'], ['days', '7']], []);
      return client.request('POST', '/console/compose', { type: form.type, bytes: form.body });
    };
    return { client, compose };
  }

  function stored(): { pickups: number; queued: number; sessions: number } {
    const db = new Database(path.join(tmp.dir, 'data', 'sealgate.db'), { readonly: true, fileMustExist: true });
    try {
      const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      return { pickups: count('pickup_messages'), queued: count('messages'), sessions: (db.prepare("SELECT count(*) AS n FROM web_sessions WHERE kind = 'sender'").get() as { n: number }).n };
    } finally {
      db.close();
    }
  }

  it('user remove: the next compose is sent to the login page and nothing is sealed or queued', async () => {
    const { client, compose } = await loggedIn('alice@example.test');
    expect((await gateway.cli('user', 'remove', 'alice@example.test')).code).toBe(0);
    const before = stored();
    const refused = await compose();
    expect(refused.status).toBe(303);
    expect(refused.headers.location).toBe('/console/login');
    expect(stored()).toEqual({ ...before, sessions: 0 });
    expect(before.pickups).toBe(0);
    expect(before.queued).toBe(0);
    expect((await client.request('GET', '/console')).headers.location).toBe('/console/login');
  });

  it('user passwd: the session ends as well', async () => {
    const { compose } = await loggedIn('carol@example.test');
    expect((await gateway.cli('user', 'passwd', 'carol@example.test', '--password', 'another long password')).code).toBe(0);
    expect(stored().sessions).toBe(0);
    const refused = await compose();
    expect(refused.status).toBe(303);
    expect(refused.headers.location).toBe('/console/login');
    expect(stored()).toMatchObject({ pickups: 0, queued: 0 });
  });
});
