import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gatewayWithSmarthost } from '../helpers/attack-rig.ts';
import { authenticatedSession, sendData } from '../helpers/smtp-session.ts';

/*
 * Attack (issue 9 item 8, logs): a sender who mistypes the pickup control
 * (`Sealgate-Secure: passphrase: …`, a colon for the `=`) got a 550 whose text quoted the
 * first 40 characters of the field, and ingress logged that text ("message refused",
 * `reason`): the passphrase stood in the gateway's log, where no secret may be. The refusal
 * now names what is wrong without repeating the value.
 */
const PASSWORD = 'correct horse battery staple';
const SECRETS = ['Tr0ub4dor-and-3', 'Rex-the-dog-1999'];

/** Every file under `dir` as text (the data dir: database, WAL, logs if any). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...filesUnder(full));
    else out.push(readFileSync(full, 'latin1'));
  }
  return out;
}

describe('att a mistyped Sealgate-Secure field leaves its secret in no log', () => {
  const rig = gatewayWithSmarthost({ prefix: 'att-secure-log', config: { log: { level: 'debug' } }, users: ['alice@corp.test'], password: PASSWORD });

  it('refuses with 550 5.6.0, and neither the reply nor the log nor the data dir holds the secret', async () => {
    const fields = [`Sealgate-Secure: passphrase: ${SECRETS[0]}`, `Sealgate-Secure: question=Dog?; answer:${SECRETS[1]}`];
    for (const field of fields) {
      const client = await authenticatedSession(rig.gateway.ports.submission, 'alice@corp.test', PASSWORD);
      expect(await client.command('MAIL FROM:<alice@corp.test>')).toMatch(/^250/);
      expect(await client.command('RCPT TO:<patient@remote.test>')).toMatch(/^250/);
      const reply = await sendData(client, `From: alice@corp.test\r\nTo: patient@remote.test\r\nSubject: results\r\n${field}\r\nMessage-ID: <m@corp.test>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\nresults\r\n`);
      client.close();
      expect(reply).toMatch(/^550 5\.6\.0 /);
      for (const secret of SECRETS) expect(reply).not.toContain(secret);
    }
    await new Promise((r) => setTimeout(r, 300)); // the log lines of the refusals are written
    const log = rig.gateway.output();
    expect(log).toMatch(/message refused/);
    for (const secret of SECRETS) {
      expect(log).not.toContain(secret);
      for (const file of filesUnder(path.join(rig.gateway.dir, 'data'))) expect(file).not.toContain(secret);
    }
  }, 30_000);
});
