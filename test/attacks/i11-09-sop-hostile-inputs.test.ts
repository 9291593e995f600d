/**
 * Issue 11: `sealgate sop` fed what a hostile caller (or a test harness probing it) feeds it,
 * through the real `bin/sealgate.js` and a signature GnuPG made in 2021 (faked clock). The
 * draft's exit codes are the contract a calling program acts on: a date window the caller set
 * must hold (a signature outside it is no acceptable signature, 3), a key file that is not
 * there is 61 and one that holds no secret key is 41, not "cannot decrypt" (29), and a
 * ciphertext that is not OpenPGP at all is 41.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPeers } from '../helpers/peers.ts';

const SEALGATE = path.resolve(import.meta.dirname, '../../bin/sealgate.js');
let dir = '';
let home = '';
function sop(args: string[], stdin: Buffer = Buffer.alloc(0)): { code: number; stdout: string } {
  const r = spawnSync(process.execPath, [SEALGATE, 'sop', ...args], { input: stdin, cwd: dir });
  return { code: r.status ?? -1, stdout: r.stdout.toString('latin1') };
}
function gpg(...args: string[]): void {
  const r = spawnSync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { cwd: dir });
  if (r.status !== 0) throw new Error(`gpg ${args.join(' ')}: ${r.stderr}`);
}
const data = Buffer.from('order: ship 10 crates\n');

describeWithPeers(['gpg'], 'i11-09 sealgate sop on hostile inputs', () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sg-i11-09-'));
    home = mkdtempSync(path.join(os.tmpdir(), 'sg-i11-09-gpg-'));
    writeFileSync(path.join(dir, 'data'), data);
    gpg('--faked-system-time', '20210101T000000', '--quick-gen-key', 'Old <old@sop.test>', 'ed25519', 'sign', 'never');
    gpg('--faked-system-time', '20210601T000000', '--detach-sign', '-o', 'data.sig', 'data');
    gpg('--export', '-o', 'old.cert');
  });
  afterAll(() => {
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'all']);
    rmSync(home, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds the verify date window', () => {
    expect(sop(['verify', 'data.sig', 'old.cert'], data)).toMatchObject({ code: 0, stdout: expect.stringMatching(/^2021-06-01T00:00:00Z /) });
    expect(sop(['verify', '--not-before=2022-01-01T00:00:00Z', 'data.sig', 'old.cert'], data)).toEqual({ code: 3, stdout: '' });
    expect(sop(['verify', '--not-after=2020-12-31T00:00:00Z', 'data.sig', 'old.cert'], data)).toEqual({ code: 3, stdout: '' });
    expect(sop(['verify', '--not-before=2021-05-01T00:00:00Z', '--not-after=now', 'data.sig', 'old.cert'], data).code).toBe(0);
    expect(sop(['verify', '--not-before=last tuesday', 'data.sig', 'old.cert'], data).code).toBe(37);
  });

  it('gives decrypt the exit code of what is wrong', () => {
    expect(sop(['decrypt', 'no-such.key'], data).code).toBe(61);
    expect(sop(['decrypt', 'old.cert'], data).code).toBe(41);
    writeFileSync(path.join(dir, 'pw'), 'secret');
    expect(sop(['decrypt', '--with-password=pw'], Buffer.from('not openpgp at all\n')).code).toBe(41);
    const sealed = sop(['encrypt', '--with-password=pw'], data);
    expect(sealed.code).toBe(0);
    writeFileSync(path.join(dir, 'wrong'), 'other');
    expect(sop(['decrypt', '--with-password=wrong'], Buffer.from(sealed.stdout, 'latin1')).code).toBe(29);
    expect(sop(['decrypt', '--with-password=pw'], Buffer.from(sealed.stdout, 'latin1'))).toEqual({ code: 0, stdout: data.toString('latin1') });
  });
});
