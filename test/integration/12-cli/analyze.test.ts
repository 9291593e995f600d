import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sealgateInProcess } from '../../helpers/cli-in-process.ts';
import { startDns } from '../../helpers/dns.ts';
import { gatewayWithSmarthost } from '../../helpers/attack-rig.ts';
import { describeWithPeers } from '../../helpers/peers.ts';
import { runSwaks } from '../../helpers/swaks.ts';
import { tempDir } from '../../helpers/ports.ts';
import { run } from '../21-auth/peers.ts';
import { SEALGATE, type CliRun } from './run-cli.ts';

/*
 * Issue 12, `sealgate analyze <file|->`: the Received path of real messages (the corpus in
 * test/fixtures/received/) as text and --json, and DKIM checked again against the key dnsmasq
 * serves, for a message dkimpy signed, read from stdin by the real process; and Sealgate's own
 * stamp as the gateway writes it on a real relay (swaks with and without STARTTLS).
 */
const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/received');
const temp = tempDir('cli-analyze');
afterAll(() => temp.cleanup());

/** The real `bin/sealgate.js` with `input` on its stdin. */
function sealgateWithInput(cwd: string, args: string[], input: string, env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SEALGATE, ...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('sealgate analyze (in process)', () => {
  it('prints the hops oldest first with the verdict, and --json as documented', async () => {
    const file = path.join(FIXTURES, 'postfix-suse-vger.eml');
    const text = await sealgateInProcess(temp.dir, ['analyze', '--offline', file]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Path, oldest hop first \(7 Received fields\):/);
    expect(text.stdout).toContain('Verdict: TLS on 4 of 6 hops');
    expect(text.stdout).toContain('TLSv1.3 TLS_AES_256_GCM_SHA384');
    const json = await sealgateInProcess(temp.dir, ['analyze', '--offline', '--json', file]);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as { hops: Record<string, unknown>[]; verdict: string; network_hops: number; tls_hops: number; dkim: unknown };
    expect(doc.hops).toHaveLength(7);
    expect(Object.keys(doc.hops[0])).toEqual(expect.arrayContaining(['from', 'by', 'with', 'tls', 'time', 'delay_s']));
    expect(doc.hops[0]).toMatchObject({ from: 'dovecot-director2.suse.de', by: 'imap2.suse-dmz.suse.de', with: 'ESMTPSA', tls: null, time: '2022-11-13T01:53:40.000Z', delay_s: null });
    expect(doc.hops[2]).toMatchObject({ tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, delay_s: 1 });
    expect(doc).toMatchObject({ verdict: 'tls-on-some-hops', network_hops: 6, tls_hops: 4, dkim: null });
  });

  it('a missing file is EX_NOINPUT with a sentence', async () => {
    const missing = await sealgateInProcess(temp.dir, ['analyze', '--offline', path.join(temp.dir, 'nope.eml')]);
    expect(missing.code).toBe(66);
    expect(missing.stderr).toContain('nope.eml does not exist');
  });
});

describeWithPeers(['dnsmasq', 'dknewkey', 'dkimsign'], 'sealgate analyze re-checks DKIM over DNS (dkimpy, dnsmasq)', () => {
  it('a dkimpy signature passes with the published key, and fails once the body changed', async () => {
    const keys = path.join(temp.dir, 'keys');
    run('mkdir', ['-p', keys]);
    expect(run('dknewkey', ['--ktype', 'ed25519', path.join(keys, 'ed')]).status).toBe(0);
    const dns = await startDns({ txt: [{ name: 'ed._domainkey.edk.test', text: readFileSync(path.join(keys, 'ed.dns'), 'utf8').trim() }] });
    try {
      const message = `Received: from client.edk.test (client.edk.test [192.0.2.7])\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\n\tby mx.edk.test (Postfix) with ESMTPS id 4ABC;\n\tWed, 02 Dec 2026 12:00:01 +0000\nFrom: News <news@edk.test>\nTo: bob@corp.test\nSubject: analyze me\nDate: Wed, 02 Dec 2026 12:00:00 +0000\nMessage-ID: <analyze@edk.test>\n\nHello Bob.\n`;
      const signed = run('dkimsign', ['--signalg', 'ed25519-sha256', 'ed', 'edk.test', path.join(keys, 'ed.key')], message);
      expect(signed.status).toBe(0);
      const config = path.join(temp.dir, 'sealgate.json');
      writeFileSync(config, JSON.stringify({ auth: { dnsServers: dns.servers } }));
      const good = await sealgateWithInput(temp.dir, ['analyze', '--json', '--config', config, '-'], signed.stdout);
      expect(good.code, good.stderr).toBe(0);
      expect(JSON.parse(good.stdout)).toMatchObject({ verdict: 'tls-on-every-hop', dkim: [{ domain: 'edk.test', selector: 'ed', result: 'pass' }] });
      const changed = await sealgateWithInput(temp.dir, ['analyze', '--config', config, '-'], signed.stdout.replace('Hello Bob.', 'Hello Eve.'));
      expect(changed.code).toBe(0);
      expect(changed.stdout).toMatch(/DKIM: fail d=edk\.test s=ed/);
    } finally {
      await dns.stop();
    }
  });
});

describeWithPeers(['swaks'], 'sealgate analyze reads the stamp Sealgate itself writes', () => {
  const rig = gatewayWithSmarthost({ prefix: 'analyze-own', cli: 'in-process' });

  it('a real chain relayed once more: its hops, then ours with the TLS version and cipher of the session', async () => {
    const file = path.join(temp.dir, 'relay-in.eml');
    // A real message's header (test/fixtures/received/), sent on by swaks over STARTTLS, then without.
    writeFileSync(file, `${readFileSync(path.join(FIXTURES, 'gmail-mx-googlegroups.eml'), 'latin1')}\nHello.\n`);
    for (const tls of [['-tls'], []]) {
      const sent = await runSwaks(['--server', `127.0.0.1:${rig.gateway.ports.inbound}`, ...tls, '--from', 'news@googlegroups.test', '--to', 'bob@corp.test', '--data', file]);
      expect(sent.code, sent.stdout).toBe(0);
    }
    await rig.rx.until(2, 20_000);
    const analysed = [];
    for (const [i, transaction] of rig.rx.transactions().entries()) {
      const out = path.join(temp.dir, `relayed-${i}.eml`);
      writeFileSync(out, transaction.data);
      const result = await rig.gateway.cli('analyze', '--offline', '--json', out);
      expect(result.code, result.stderr).toBe(0);
      analysed.push(JSON.parse(result.stdout) as { hops: { from: string | null; by: string | null; with: string | null; tls: { version: string; cipher: string } | null; transport: string }[]; verdict: string });
    }
    const [overTls, plain] = analysed;
    // The corpus chain's six hops, oldest first, then Sealgate's: from swaks on loopback, so not a network hop.
    expect(overTls.hops).toHaveLength(7);
    expect(overTls.hops[6]).toMatchObject({ by: 'gateway.sealgate.test', with: 'ESMTPS', transport: 'local' });
    expect(overTls.hops[6].tls?.version).toMatch(/^TLSv1\.[23]$/);
    expect(overTls.hops[6].tls?.cipher).toMatch(/^[A-Z0-9_-]+$/);
    expect(overTls.verdict).toBe('tls-on-every-hop');
    expect(plain.hops[6]).toMatchObject({ by: 'gateway.sealgate.test', with: 'ESMTP', tls: null, transport: 'local' });
  });
});
