/**
 * Backup end to end (issue 13 "Backup"): taken while the gateway runs and holds a deferred
 * message, restored onto an empty data dir; the restored gateway has the user and delivers the
 * message. A wrong passphrase, a flipped byte and a cut file are refused in words; pickup shares
 * stay out. PostgreSQL: a schema dumped, emptied and restored.
 */
import { readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startGateway } from '../../helpers/gateway.ts';
import { sendMessage } from '../../helpers/cluster.ts';
import { tempDir, until } from '../../helpers/ports.ts';
import { startRecordingSmtp } from '../../helpers/recording-smtp.ts';
import { authenticatedSession } from '../../helpers/smtp-session.ts';
import { createTestSchema, hasPostgres } from '../../helpers/stores.ts';
import { sealgate } from './run-cli.ts';

const PASSWORD = 'correct horse battery staple';
// The lowest scrypt cost the config accepts (default 2^17, ~0.4 s per create/verify/restore on an
// idle core, seconds on a loaded one); the default is checked in src/vault/backup-archive.test.ts.
const CHEAP_KDF = { scryptLogN: 14 };

const postgres = await hasPostgres();

describe('backup create, verify and restore', () => {
  it('a backup taken while running restores onto an empty data dir, and its message is delivered from there', async () => {
    const temp = tempDir('sealgate-backup-');
    const rx = await startRecordingSmtp();
    // A smarthost that takes the connection and never greets: the message is being delivered
    // (leased by the first gateway) while the backup is taken.
    const stalled: Socket[] = [];
    const stall = createServer((socket) => void stalled.push(socket));
    await new Promise<void>((resolve) => stall.listen(0, '127.0.0.1', resolve));
    const laterPort = (stall.address() as AddressInfo).port;
    const passFile = path.join(temp.dir, 'pass');
    writeFileSync(passFile, 'a long backup passphrase\n');
    const domains = { 'corp.test': { smarthost: `127.0.0.1:${laterPort}`, verifyRecipients: 'off' } };
    const first = await startGateway(path.join(temp.dir, 'first'), { domains, web: { enabled: false }, queue: { retryScheduleMs: [500], pollIntervalMs: 100 }, backup: CHEAP_KDF }, { cli: 'in-process' });
    try {
      expect((await first.cli('user', 'add', 'alice@corp.test', '--password', PASSWORD)).code).toBe(0);
      const big = `${'x'.repeat(76)}\r\n`.repeat(5300); // over 256 kB: its body is a file in blobs/, not a row
      expect((await sendMessage(first.ports.inbound, 'restored-mail', { recipients: ['box@corp.test'], body: big })).acked).toBe(true);
      await until(() => stalled.length > 0, 30_000, 'the first delivery attempt under way');
      const file = path.join(temp.dir, 'sealgate.backup');
      const made = await first.cli('backup', 'create', file, '--passphrase-file', passFile);
      expect(made.code, made.stderr).toBe(0);
      expect(made.stdout).toMatch(/^backup written to .*: \d+ file\(s\)/);
      expect(made.stderr).toMatch(/Pickup shares are not in the backup, by design/);
      expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
      expect(readFileSync(file).includes(Buffer.from('restored-mail'))).toBe(false);
      expect(readFileSync(file, 'utf8').split('\n')[0]).toContain(`"N":${2 ** CHEAP_KDF.scryptLogN},`);
      expect((await first.cli('backup', 'create', file, '--passphrase-file', passFile)).code).toBe(73);

      const verified = await first.cli('backup', 'verify', file, '--passphrase-file', passFile, '--json');
      const manifest = JSON.parse(verified.stdout) as { files: { name: string }[] };
      expect(manifest.files.map((f) => f.name)).toEqual(expect.arrayContaining(['master.key', 'database.sqlite', expect.stringMatching(/^blobs\//), expect.stringMatching(/^queue-keys\//)]));

      writeFileSync(path.join(temp.dir, 'wrong'), 'not the passphrase');
      const wrong = await first.cli('backup', 'verify', file, '--passphrase-file', path.join(temp.dir, 'wrong'));
      expect(wrong).toMatchObject({ code: 65, stderr: expect.stringMatching(/wrong passphrase, or the file was changed or cut short/) });
      const flipped = path.join(temp.dir, 'flipped.backup');
      const bytes = readFileSync(file);
      bytes[Math.floor(bytes.length / 2)] ^= 1;
      writeFileSync(flipped, bytes);
      expect((await first.cli('backup', 'verify', flipped, '--passphrase-file', passFile)).code).toBe(65);
      const cut = path.join(temp.dir, 'cut.backup');
      writeFileSync(cut, readFileSync(file));
      truncateSync(cut, statSync(cut).size - 100);
      expect((await first.cli('backup', 'verify', cut, '--passphrase-file', passFile)).code).toBe(65);

      for (const socket of stalled) socket.destroy(); // else the shutdown waits for that delivery
      await first.kill();
      // The restored installation: a fresh data dir under its own config, now reaching the smarthost.
      const restoredDir = path.join(temp.dir, 'third');
      const config = { hostname: 'gateway.sealgate.test', dataDir: path.join(restoredDir, 'data'), domains: { 'corp.test': { smarthost: `127.0.0.1:${rx.port}`, verifyRecipients: 'off' } }, web: { enabled: false } };
      const configFile = path.join(temp.dir, 'third.json');
      writeFileSync(configFile, JSON.stringify(config));
      const restored = await sealgate(temp.dir, ['backup', 'restore', file, '--passphrase-file', passFile, '--config', configFile]);
      expect(restored.code, restored.stderr).toBe(0);
      // Its lease belonged to the first gateway: void in the copy, not waited out (queue.leaseMs).
      expect(restored.stderr).toMatch(/1 delivery\(ies\) in progress when the backup was taken are queued again/);
      // Not onto an installation that exists.
      expect((await sealgate(temp.dir, ['backup', 'restore', file, '--passphrase-file', passFile, '--config', configFile])).code).toBe(73);
      const third = await startGateway(restoredDir, { ...config, queue: { retryScheduleMs: [500], pollIntervalMs: 100 } });
      try {
        await until(() => rx.transactions().length === 1, 30_000, 'the restored message delivered');
        expect(rx.transactions()[0].data.includes(Buffer.from(big.slice(0, 1000)))).toBe(true);
        (await authenticatedSession(third.ports.submission, 'alice@corp.test', PASSWORD)).close();
        const audit = JSON.parse((await third.cli('audit', 'list', '--action', 'backup', '--json')).stdout) as { action: string }[];
        expect(audit.map((e) => e.action)).toEqual(['backup.create', 'backup.restore']);
        expect((await third.cli('audit', 'verify')).code).toBe(0);
      } finally {
        await third.kill();
      }
    } finally {
      await first.kill();
      await rx.stop();
      for (const socket of stalled) socket.destroy();
      stall.close();
      temp.cleanup();
    }
  }, 180_000);

  it.skipIf(!postgres)('PostgreSQL: the schema is dumped while running and restored into an emptied schema', async () => {
    const temp = tempDir('sealgate-backup-pg-');
    const schema = await createTestSchema('bk');
    const passFile = path.join(temp.dir, 'pass');
    writeFileSync(passFile, 'a long backup passphrase');
    const gateway = await startGateway(path.join(temp.dir, 'gw'), { store: { url: schema.url }, web: { enabled: false }, backup: CHEAP_KDF }, { cli: 'in-process' });
    try {
      expect((await gateway.cli('user', 'add', 'pg@corp.test', '--password', PASSWORD)).code).toBe(0);
      const file = path.join(temp.dir, 'pg.backup');
      const made = await gateway.cli('backup', 'create', file, '--passphrase-file', passFile);
      expect(made.code, made.stderr).toBe(0);
      await gateway.kill();
      const { rows } = await schema.query(`select tablename from pg_tables where schemaname = '${schema.name}'`);
      for (const row of rows as { tablename: string }[]) await schema.query(`drop table ${schema.name}."${row.tablename}" cascade`);
      const keyFile = path.join(temp.dir, 'gw', 'data', 'master.key');
      const key = readFileSync(keyFile);
      rmSync(keyFile); // restore wants no key in place
      const restored = await gateway.cli('backup', 'restore', file, '--passphrase-file', passFile);
      expect(restored.code, restored.stderr).toBe(0);
      expect(readFileSync(keyFile).equals(key)).toBe(true);
      const users = JSON.parse((await gateway.cli('user', 'list', '--json')).stdout) as { username: string }[];
      expect(users.map((u) => u.username)).toEqual(['pg@corp.test']);
      // A second restore into the now full schema is refused.
      rmSync(keyFile);
      expect((await gateway.cli('backup', 'restore', file, '--passphrase-file', passFile)).code).toBe(73);
    } finally {
      await gateway.kill();
      await schema.drop();
      temp.cleanup();
    }
  }, 120_000);
});
