import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import type { DeliveryReceipt } from '../kernel/index.ts';
import { Queue } from '../queue/index.ts';
import { openBlobStore } from '../store/index.ts';
import { createVault } from '../vault/index.ts';
import { DeliveryWorker, type DomainJob, type PickupFn, type RecipientResult, type WorkerOptions } from './worker.ts';
import type { NoticeOutcome } from './notices.ts';
import { silentLogger as silent } from '../../test/helpers/silent-logger.ts';


async function text(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts).toString();
}

function receipt(address: string, reply: string, outcome: DeliveryReceipt['outcome']): DeliveryReceipt {
  return { at: 0, recipient: address, mxHost: 'mx.dest.test', ip: '127.0.0.10', port: 25, tlsVersion: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certSubject: 'CN=mx.dest.test', certVerified: true, reply, outcome };
}

describe('delivery worker', () => {
  let current: TestStore | undefined;
  let worker: DeliveryWorker | undefined;
  afterEach(async () => {
    await worker?.stop();
    await current?.cleanup();
  });

  async function setup(decide: (job: DomainJob) => RecipientResult[], now: { t: number }, extra: { pickup?: WorkerOptions['pickup']; toPickup?: PickupFn; noticeSettled?: (o: NoticeOutcome) => Promise<void>; audit?: { add(event: unknown): Promise<void> } } = {}) {
    current = await openTestStore('sqlite');
    const clock = { now: () => now.t };
    const queue = new Queue({ store: current.store, blobs: openBlobStore(path.join(current.dir, 'blobs')), vault: createVault(randomBytes(32)), clock, logger: silent });
    const jobs: { job: DomainJob; body: string }[] = [];
    worker = new DeliveryWorker(
      {
        nodeId: 'test-node',
        hostname: 'gateway.test',
        concurrency: 4,
        perDomainConcurrency: 2,
        leaseMs: 60_000,
        pollIntervalMs: 20,
        retry: { retryScheduleMs: [1000], maxAgeMs: 10_000, delayNoticeAfterMs: 3000 },
        routing: { domains: { 'clinic.test': { smarthost: '127.0.0.20:2526' } } },
        pickup: extra.pickup,
      },
      {
        queue,
        clock,
        logger: silent,
        toPickup: extra.toPickup,
        noticeSettled: extra.noticeSettled,
        audit: extra.audit,
        deliver: async (job) => {
          jobs.push({ job, body: await text(await job.openBody()) });
          return { results: decide(job) };
        },
      },
    );
    await worker.start();
    return { queue, jobs };
  }

  async function until(check: () => boolean | Promise<boolean>, ms = 5000) {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('delivers, records receipts, routes local domains to their smarthost, and deletes the body', async () => {
    const now = { t: 1_000_000 };
    const { queue, jobs } = await setup((job) => job.recipients.map((r) => ({ recipientId: r.id, outcome: 'delivered', reply: '250 2.0.0 Ok: queued as ABC', receipt: receipt(r.address, '250 2.0.0 Ok: queued as ABC', 'delivered') })), now);
    const { id } = await queue.enqueue({ mailFrom: 'a@sender.test', recipients: [{ address: 'x@dest.test' }, { address: 'doc@clinic.test' }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' }, Readable.from([Buffer.from('Subject: hi\r\n\r\nbody\r\n')]));
    worker!.notify();
    await until(async () => (await queue.show(id))?.recipients.every((r) => r.state === 'delivered') ?? false);
    expect(jobs.map((j) => j.job.route).sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([{ kind: 'mx' }, { kind: 'smarthost', host: '127.0.0.20', port: 2526 }]);
    expect(jobs[0].body).toBe('Subject: hi\r\n\r\nbody\r\n');
    const detail = await queue.show(id);
    expect(detail?.receipts.map((r) => r.reply)).toEqual(['250 2.0.0 Ok: queued as ABC', '250 2.0.0 Ok: queued as ABC']);
    await until(async () => (await queue.list({ state: 'active' })).length === 0);
  });

  it('gives a group\'s slots back once the remote answered: the next message of the domain goes out while the last ones settle', async () => {
    const now = { t: 1_500_000 };
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let waiting = 0;
    // The settlement's audit events wait at the gate: each group is past its send, not settled.
    const audit = { add: async () => void (waiting++, await gate) };
    const { queue, jobs } = await setup((job) => job.recipients.map((r) => ({ recipientId: r.id, outcome: 'delivered', reply: '250 2.0.0 Ok', receipt: receipt(r.address, '250 2.0.0 Ok', 'delivered') })), now, { audit });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push((await queue.enqueue({ mailFrom: 'a@sender.test', recipients: [{ address: `r${i}@dest.test` }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' }, Readable.from([Buffer.from('Subject: hi\r\n\r\nbody\r\n')]))).id);
    }
    worker!.notify();
    // perDomainConcurrency is 2: all four sent while none has finished settling (before: two).
    await until(() => jobs.length === 4 && waiting === 4);
    open();
    await until(async () => (await Promise.all(ids.map((id) => queue.show(id)))).every((m) => m?.recipients.every((r) => r.state === 'delivered')));
  });

  it('bounces a 5xx recipient with an RFC 3464 report to the sender, never to the null sender', async () => {
    const now = { t: 2_000_000 };
    const { queue, jobs } = await setup(
      (job) =>
        job.recipients.map((r) =>
          r.address.startsWith('bad')
            ? { recipientId: r.id, outcome: 'failed' as const, reply: '550 5.1.1 <bad@dest.test>: Recipient address rejected', enhanced: '5.1.1', receipt: receipt(r.address, '550 5.1.1 rejected', 'failed') }
            : { recipientId: r.id, outcome: 'delivered' as const, reply: '250 ok', receipt: receipt(r.address, '250 ok', 'delivered') },
        ),
      now,
    );
    await queue.enqueue({ mailFrom: 'a@sender.test', recipients: [{ address: 'bad@dest.test' }, { address: 'good@dest.test' }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' }, Readable.from([Buffer.from('Subject: original\r\n\r\nsecret\r\n')]));
    worker!.notify();
    await until(() => jobs.some((j) => j.job.mailFrom === '' && j.job.recipients[0].address === 'a@sender.test'));
    const report = jobs.find((j) => j.job.mailFrom === '')!;
    expect(report.body).toMatch(/multipart\/report; report-type=delivery-status/);
    expect(report.body).toMatch(/Final-Recipient: rfc822; ?bad@dest\.test/);
    expect(report.body).toMatch(/Status: 5\.1\.1/);
    expect(report.body).toContain('Subject: original');
    expect(report.body).not.toContain('good@dest.test\r\nAction');
    // The report itself bounces into the void: nothing is queued to the null sender.
    const before = jobs.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(jobs.filter((j) => j.job.mailFrom === '').length).toBe(1);
    expect(jobs.length).toBe(before);
  });

  it('retries 4xx on schedule, sends one delay notice, and bounces at expiry', async () => {
    const now = { t: 3_000_000 };
    const { queue, jobs } = await setup(
      (job) => job.recipients.map((r) => (job.mailFrom === '' ? { recipientId: r.id, outcome: 'delivered' as const, reply: '250 ok', receipt: receipt(r.address, '250 ok', 'delivered') } : { recipientId: r.id, outcome: 'deferred' as const, reply: '451 4.3.0 try later', receipt: receipt(r.address, '451 4.3.0 try later', 'deferred') })),
      now,
    );
    const { id } = await queue.enqueue({ mailFrom: 'a@sender.test', recipients: [{ address: 'x@slow.test' }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' }, Readable.from([Buffer.from('Subject: s\r\n\r\nb\r\n')]));
    worker!.notify();
    const attemptsTo = (addr: string) => jobs.filter((j) => j.job.recipients.some((r) => r.address === addr)).length;
    await until(() => attemptsTo('x@slow.test') === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(attemptsTo('x@slow.test')).toBe(1); // not before the schedule says
    for (let step = 0; step < 12; step++) {
      now.t += 1000;
      worker!.notify();
      const n = attemptsTo('x@slow.test');
      await until(async () => attemptsTo('x@slow.test') > n || (await queue.show(id))?.recipients[0].state === 'failed');
    }
    await until(async () => (await queue.show(id))?.recipients[0].state === 'failed');
    const reports = jobs.filter((j) => j.job.mailFrom === '');
    await until(() => jobs.filter((j) => j.job.mailFrom === '').length === 2);
    const bodies = jobs.filter((j) => j.job.mailFrom === '').map((j) => j.body);
    expect(bodies.filter((b) => /Action: delayed/.test(b)).length).toBe(1);
    expect(bodies.filter((b) => /Action: failed/.test(b) && /Status: 4\.4\.7/.test(b)).length).toBe(1);
    expect(reports.length).toBeGreaterThanOrEqual(1);
  });

  const rules = { fallbackOnRequirement: true, tlsOrPickupDomains: [], whenNoTls: true, portal: true };
  const submitted = { mailFrom: 'alice@sender.test', origin: 'submitted' as const, authUser: 'alice@sender.test', requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' as const };

  it('holds a [secure] message to our own domain (smarthost route) for pickup, never delivering it (issue 10 item 4)', async () => {
    const now = { t: 4_000_000 };
    const held: DomainJob[] = [];
    const toPickup: PickupFn = async (job, recipients) => {
      held.push(job);
      return recipients.map((r) => ({ recipientId: r.id, outcome: 'delivered' as const, reply: '250 2.0.0 Held for Secure Message Pickup P1 (x); notice queued as N1.', receipt: receipt(r.address, 'held', 'delivered') }));
    };
    const { queue, jobs } = await setup((job) => job.recipients.map((r) => ({ recipientId: r.id, outcome: 'delivered' as const, reply: '250 ok', receipt: receipt(r.address, '250 ok', 'delivered') })), now, { pickup: rules, toPickup });
    const { id } = await queue.enqueue({ ...submitted, pickup: true, recipients: [{ address: 'patient@clinic.test' }] }, Readable.from([Buffer.from('Subject: Lab results\r\n\r\nsecret\r\n')]));
    worker!.notify();
    await until(async () => (await queue.show(id))?.recipients[0].state === 'delivered');
    expect(held.map((j) => j.route.kind)).toEqual(['smarthost']);
    expect(jobs).toEqual([]); // nothing went to the smarthost
  });

  it('asks policy again after the attempt: a level no MX meets goes to pickup with the best link found, a mailbox refusal stays failed', async () => {
    const now = { t: 4_500_000 };
    const held: { reason: string; bestLink?: string; addresses: string[] }[] = [];
    const toPickup: PickupFn = async (_job, recipients, reason, bestLink) => {
      held.push({ reason, bestLink, addresses: recipients.map((r) => r.address) });
      return recipients.map((r) => ({ recipientId: r.id, outcome: 'delivered' as const, reply: '250 2.0.0 Held for Secure Message Pickup P2 (x)', receipt: receipt(r.address, 'held', 'delivered') }));
    };
    const unmet = '550 5.7.10 No MX of dest.test meets the required level tls-verified';
    const { queue } = await setup(
      (job) =>
        job.recipients.map((r) =>
          r.address.startsWith('gone')
            ? { recipientId: r.id, outcome: 'failed' as const, reply: '550 5.1.1 no such user', enhanced: '5.1.1', receipt: receipt(r.address, '550 5.1.1 no such user', 'failed') }
            : { recipientId: r.id, outcome: 'failed' as const, reply: unmet, enhanced: '5.7.10', bestLink: 'tls' as const, receipt: receipt(r.address, unmet, 'failed') },
        ),
      now,
      { pickup: rules, toPickup },
    );
    const { id } = await queue.enqueue({ ...submitted, requiredLevel: 'tls-verified', recipients: [{ address: 'carol@dest.test' }, { address: 'gone@dest.test' }] }, Readable.from([Buffer.from('Subject: x\r\n\nbody\r\n')]));
    worker!.notify();
    await until(async () => (await queue.show(id))?.recipients.every((r) => r.state === 'delivered' || r.state === 'failed') === true);
    const states = Object.fromEntries((await queue.show(id))!.recipients.map((r) => [r.address, r.state]));
    expect(states).toEqual({ 'carol@dest.test': 'delivered', 'gone@dest.test': 'failed' });
    expect(held).toEqual([{ reason: unmet, bestLink: 'tls', addresses: ['carol@dest.test'] }]);
  });

  it('refuses a pickup request with its reason when there is no portal, and reports it to the sender', async () => {
    const now = { t: 5_000_000 };
    const toPickup: PickupFn = async () => {
      throw new Error('must not be called');
    };
    const { queue, jobs } = await setup((job) => job.recipients.map((r) => ({ recipientId: r.id, outcome: 'delivered' as const, reply: '250 ok', receipt: receipt(r.address, '250 ok', 'delivered') })), now, { pickup: { ...rules, portal: false }, toPickup });
    const { id } = await queue.enqueue({ ...submitted, pickup: true, recipients: [{ address: 'patient@clinic.test' }] }, Readable.from([Buffer.from('Subject: Lab results\r\n\r\nsecret\r\n')]));
    worker!.notify();
    await until(async () => (await queue.show(id))?.recipients[0].state === 'failed');
    expect((await queue.show(id))?.recipients[0].lastReply).toMatch(/^554 5\.3\.3 Secure Message Pickup was requested/);
    await until(() => jobs.some((j) => j.job.recipients[0].address === 'alice@sender.test'));
    expect(jobs.filter((j) => j.job.recipients[0].address === 'patient@clinic.test')).toEqual([]);
    expect(jobs[0].body).toMatch(/Status: 5\.3\.3/);
  });

  it('a pickup notice that fails: its pickup is told, and the pickup sender gets a DSN naming recipient and reason (issue 10 item 2)', async () => {
    const now = { t: 6_000_000 };
    const told: NoticeOutcome[] = [];
    const reply = '550 5.7.1 <bob@plain.test>: notices not welcome here';
    const { queue, jobs } = await setup(
      (job) => job.recipients.map((r) => (job.notice ? { recipientId: r.id, outcome: 'failed' as const, reply, enhanced: '5.7.1', receipt: receipt(r.address, reply, 'failed') } : { recipientId: r.id, outcome: 'delivered' as const, reply: '250 ok', receipt: receipt(r.address, '250 ok', 'delivered') })),
      now,
      { pickup: rules, noticeSettled: async (o) => void told.push(o) },
    );
    const notice = { kind: 'pickup-notice' as const, pickupId: 'PICKUP1', reportTo: 'alice@sender.test', heldMessageId: 'HELD1' };
    const { id } = await queue.enqueue({ mailFrom: '', recipients: [{ address: 'bob@plain.test', notify: ['NEVER'] }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME', notice }, Readable.from([Buffer.from('Subject: You have a secure message\r\n\r\nlink\r\n')]));
    worker!.notify();
    await until(async () => (await queue.show(id))?.recipients[0].state === 'failed');
    expect(told).toMatchObject([{ notice, messageId: id, recipient: 'bob@plain.test', outcome: 'failed', reply }]);
    await until(() => jobs.some((j) => j.job.recipients[0].address === 'alice@sender.test'));
    const report = jobs.find((j) => j.job.recipients[0].address === 'alice@sender.test')!;
    expect(report.job.mailFrom).toBe('');
    expect(report.body).toMatch(/Final-Recipient: rfc822; ?bob@plain\.test/);
    expect(report.body).toContain('notices not welcome here');
    expect(report.body).toMatch(/held for Secure Message Pickup\s+\(PICKUP1\)/);
    // NOTIFY=NEVER on the notice's own recipient does not silence the report to the pickup's sender.
  });

  it('a delivered pickup notice tells its pickup the link level it reached', async () => {
    const now = { t: 7_000_000 };
    const told: NoticeOutcome[] = [];
    const { queue } = await setup((job) => job.recipients.map((r) => ({ recipientId: r.id, outcome: 'delivered' as const, reply: '250 ok', link: 'tls' as const, receipt: receipt(r.address, '250 ok', 'delivered') })), now, { pickup: rules, noticeSettled: async (o) => void told.push(o) });
    const notice = { kind: 'pickup-notice' as const, pickupId: 'PICKUP2', reportTo: 'alice@sender.test' };
    const { id } = await queue.enqueue({ mailFrom: '', recipients: [{ address: 'bob@tls.test' }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME', notice }, Readable.from([Buffer.from('Subject: n\r\n\r\nlink\r\n')]));
    worker!.notify();
    await until(async () => (await queue.show(id))?.recipients[0].state === 'delivered');
    expect(told).toMatchObject([{ outcome: 'delivered', link: 'tls', recipient: 'bob@tls.test' }]);
  });
});
