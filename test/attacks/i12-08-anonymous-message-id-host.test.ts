import { hostname } from 'node:os';
import { expect, it } from 'vitest';
import { ANONYMOUS_PASSWORD, anonymousSubmissionRig } from '../helpers/anonymous-rig.ts';
import { describeWithPeers } from '../helpers/peers.ts';
import { until } from '../helpers/ports.ts';
import { runSwaks } from '../helpers/swaks.ts';

/*
 * Issue 12 attack 8: a mail program names its machine in the Message-ID it writes (RFC 5322
 * §3.6.4's id-right is conventionally the generating host): swaks writes `<date.pid@hostname>`,
 * so do mutt, Python's make_msgid and many scripts, whatever name they give in EHLO. The
 * stripper replaced a Message-ID only when it named the HELO name or address, so
 * `<…@alice-laptop.home.lan>` from a client that said `EHLO [127.0.0.5]` reached Postfix, and
 * so did swaks's own `@<this machine's name>`. Now an anonymous submission keeps a Message-ID
 * only when its id-right is the domain of the From:/Sender: address, the envelope sender's, or
 * ours; any other is replaced by one of ours.
 */
const PASSWORD = ANONYMOUS_PASSWORD;
const CLIENT_IP = '127.0.0.5';

describeWithPeers(['root', 'postfix', 'swaks'], 'anonymous submission: the Message-ID names the machine', () => {
  const rig = anonymousSubmissionRig('i12-08');

  const send = (subject: string, headers: string[]) =>
    runSwaks([
      '--server', `127.0.0.1:${rig.gateway().ports.submission}`, '--local-interface', CLIENT_IP, '--ehlo', `[${CLIENT_IP}]`, '-tls',
      '--auth', 'PLAIN', '--auth-user', 'alice@users.test', '--auth-password', PASSWORD,
      '--from', 'alice@users.test', '--to', 'bob@anon.test', '--header', `Subject: ${subject}`, ...headers,
    ]);
  const delivered = async (subject: string) => {
    await until(() => rig.postfix().messages().some((m) => m.raw.includes(`Subject: ${subject}`)), 30_000, `delivery of "${subject}"`);
    return rig.postfix().messages().find((m) => m.raw.includes(`Subject: ${subject}`))!.raw;
  };
  // swaks spells it Message-Id; --header with that name replaces its own.
  const messageId = (raw: string) => {
    const ids = [...raw.matchAll(/^Message-Id: (.*)$/gim)].map((m) => m[1]);
    expect(ids, raw).toHaveLength(1);
    return ids[0];
  };

  it("replaces a Message-ID naming another host than the sender's domain; keeps one in the From: domain", async () => {
    expect((await send('machine id', ['--header', 'Message-Id: <20261203.4242@alice-laptop.home.lan>'])).code).toBe(0);
    expect((await send('swaks default id', [])).code).toBe(0);
    expect((await send('domain id', ['--header', 'Message-Id: <abc.1@users.test>'])).code).toBe(0);

    const machine = await delivered('machine id');
    expect(machine).not.toContain('alice-laptop');
    expect(messageId(machine)).toMatch(/^<[A-Za-z0-9_-]{16}@gateway\.sealgate\.test>$/);

    // swaks's own id names the machine it runs on, which the gateway never heard of.
    const swaks = await delivered('swaks default id');
    expect(messageId(swaks)).not.toContain(`@${hostname()}>`);
    expect(messageId(swaks)).toMatch(/@gateway\.sealgate\.test>$/);

    // The control: an id in the sender's own domain says nothing new and stays (threading holds).
    const domain = await delivered('domain id');
    expect(messageId(domain), domain).toBe('<abc.1@users.test>');
  });
});
