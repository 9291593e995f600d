/**
 * `queue hold` / `release` / `flush` / `delete --domain` against a real gateway process and a
 * recording receiver (issue 10 item 15): held mail is not delivered, not by flush and not
 * after a restart, until it is released; flush sends deferred mail now.
 */
import { describe, expect, it, vi } from 'vitest';
import { gatewayWithSmarthost } from '../../helpers/attack-rig.ts';
import { queuedId, submitAs } from '../../helpers/swaks.ts';

vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const PASSWORD = 'a long enough password';
let deferring = true;

describe('queue hold, release, flush and delete on a running gateway', () => {
  const rig = gatewayWithSmarthost({
    prefix: 'cli-hold',
    cli: 'in-process', // what hold/release/flush do; 12-cli/cli.test.ts spawns the queue commands
    users: ['alice@sender.test'],
    password: PASSWORD,
    // The first attempt of every message is deferred (451) while `deferring`; retries an hour out.
    recorder: { reply: (_line, stage) => (stage === 'rcpt' && deferring ? '451 4.3.0 try again later' : undefined) },
  });
  const submit = submitAs(() => rig.gateway.ports.submission, PASSWORD);
  const delivered = (marker: string) => rig.rx.transactions().filter((t) => t.data.includes(marker)).length;
  const show = async (id: string) => (await rig.gateway.cli('queue', 'show', id)).stdout;
  const until = async (check: () => Promise<boolean> | boolean, what: string, ms = 120_000) => {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const deferredOnce = (id: string) => until(async () => /attempts 1/.test(await show(id)), `${id} deferred once`);

  it('held mail is not delivered (not by flush, not after a restart) until released', async () => {
    const sent = await submit('bob@corp.test', ['--header', 'Subject: held-one']);
    const id = queuedId(sent.stdout);
    expect(id).toMatch(/^[A-Za-z0-9]{16}$/);
    await deferredOnce(id);
    deferring = false;
    const hold = await rig.gateway.cli('queue', 'hold', id);
    expect(hold.stdout).toBe('held 1 recipient(s)\n');
    expect(await show(id)).toMatch(/held\s+<bob@corp\.test>/);
    expect((await rig.gateway.cli('queue', 'flush')).stdout).toBe('nothing deferred\n');
    expect((await rig.gateway.cli('queue', 'retry', id)).stdout).toMatch(/nothing waiting/);
    await rig.gateway.restart();
    await new Promise((r) => setTimeout(r, 1500)); // a few poll intervals of the restarted worker
    expect(delivered('held-one')).toBe(0);
    expect((await rig.gateway.cli('queue', 'list')).stdout).toMatch(/-- \d+ bytes in 1 message, 0 waiting, 1 held recipient\(s\)/);
    expect((await rig.gateway.cli('queue', 'release', id)).stdout).toMatch(/^released 1 recipient/);
    await until(() => delivered('held-one') === 1, 'the released message at the receiver');
    await until(async () => /delivered\s+<bob@corp\.test>/.test(await show(id)), 'delivered in queue show');
  });

  it('flush sends deferred mail now; delete --domain removes what waits, without a bounce', async () => {
    deferring = true;
    const first = queuedId((await submit('carol@corp.test', ['--header', 'Subject: flush-me'])).stdout);
    await deferredOnce(first);
    deferring = false;
    expect((await rig.gateway.cli('queue', 'flush')).stdout).toMatch(/^1 deferred recipient\(s\) are due now/);
    await until(() => delivered('flush-me') === 1, 'the flushed message at the receiver');

    deferring = true;
    const second = queuedId((await submit('dave@corp.test', ['--header', 'Subject: delete-me'])).stdout);
    await deferredOnce(second);
    const del = await rig.gateway.cli('queue', 'delete', '--domain', 'corp.test');
    expect(del.stdout).toBe('deleted 1 recipient(s) of domain corp.test; 1 message(s) left the queue\n');
    expect((await rig.gateway.cli('queue', 'show', second)).code).toBe(66);
    deferring = false;
    await new Promise((r) => setTimeout(r, 1000));
    expect(delivered('delete-me')).toBe(0);
    // No bounce to alice either: postsuper -d is silent.
    const all = JSON.parse((await rig.gateway.cli('queue', 'list', '--all', '--json')).stdout) as { mailFrom: string }[];
    expect(all.filter((m) => m.mailFrom === '')).toEqual([]);
    // Each change to the queue is an audit event naming what it touched.
    const events = JSON.parse((await rig.gateway.cli('audit', 'list', '--action', 'queue.', '--json')).stdout) as { action: string; target: string | null }[];
    expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['queue.flush', 'queue.retry', 'queue.hold', 'queue.release', 'queue.delete']));
    expect(events.find((e) => e.action === 'queue.delete')?.target).toBe('domain corp.test');
  });
});
