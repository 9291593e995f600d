/**
 * bench/queue: does the queue slow down as deferred mail piles up? On SQLite and on PostgreSQL
 * (127.0.0.1:5432, database `test`, a fresh schema), the queue layer itself (`Queue`, as the
 * gateway uses it) with 10,000 and then 1,000,000 deferred messages (due tomorrow, copied by
 * SQL from one real enqueued message, so the tables and indexes are what a backlog makes):
 * the time of one lease of 50 due messages, and the enqueue rate of 20 intakes at a time
 * against the rate on an empty queue.
 *
 *   node bench/queue.ts [--deferred 1000000] [--small 10000] [--rounds 20] [--enqueues 2000] [--backend sqlite|postgres]
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import type { Envelope } from '../src/kernel/index.ts';
import { Queue } from '../src/queue/index.ts';
import { openBlobStore, openDatabaseBlobStore, type Store } from '../src/store/index.ts';
import { createVault } from '../src/vault/index.ts';
import { silentLogger } from '../test/helpers/silent-logger.ts';
import { hasPostgres, openTestStore } from '../test/helpers/stores.ts';
import { arg, figure } from './lib.ts';

const deferred = arg('deferred', 1_000_000);
const small = arg('small', 10_000);
const rounds = arg('rounds', 20);
const enqueues = arg('enqueues', 2000);
const only = process.argv.includes('--backend') ? process.argv[process.argv.indexOf('--backend') + 1] : undefined;
const BODY = Buffer.from(`Subject: queued\r\n\r\n${'x'.repeat(200)}\r\n`);
const clock = { now: () => Date.now() };

const envelope = (address: string): Envelope => ({ mailFrom: 'sender@source.test', recipients: [{ address }], requireTls: false, smtpUtf8: false, bodyType: '8BITMIME' });

/** Adds `count` deferred messages, each a copy of `template`'s rows under a new id, due in a day. */
async function addDeferred(store: Store, template: string, count: number, offset: number): Promise<void> {
  const message = await store.db.selectFrom('messages').selectAll().where('id', '=', template).executeTakeFirstOrThrow();
  const due = Date.now() + 86_400_000;
  const batch = 2000;
  for (let done = 0; done < count; done += batch) {
    const n = Math.min(batch, count - done);
    const ids = Array.from({ length: n }, (_, i) => `bench-${offset + done + i}`);
    await store.db.transaction().execute(async (trx) => {
      await trx.insertInto('messages').values(ids.map((id) => ({ ...message, id }))).execute();
      await trx
        .insertInto('recipients')
        .values(ids.map((id, i) => ({ message_id: id, address: `r${offset + done + i}@d${(offset + done + i) % 500}.test`, domain: `d${(offset + done + i) % 500}.test`, notify: null, orcpt: null, state: 'queued', attempts: 1, next_attempt_at: due, lease_owner: null, lease_until: null, lease_token: null, last_reply: '451 4.4.1 try later', updated_at: due, held_at: null })))
        .execute();
    });
  }
  // A backlog is measured in its steady state, not in the write-back of its own bulk load.
  if (store.capabilities.bodiesInDatabase) {
    await sql`vacuum analyze messages`.execute(store.db);
    await sql`vacuum analyze recipients`.execute(store.db);
    await sql`checkpoint`.execute(store.db);
  } else {
    await sql`analyze`.execute(store.db);
    await sql`pragma wal_checkpoint(truncate)`.execute(store.db);
  }
}

/** Median ms of one lease of up to 50 due messages (50 made due first; given back after each round). */
async function leaseMs(queue: Queue): Promise<number> {
  for (let i = 0; i < 50; i++) await queue.enqueue(envelope(`due${i}@sink.test`), Readable.from([BODY]));
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    const groups = await queue.lease('bench', 50, 60_000);
    times.push(performance.now() - start);
    if (groups.length === 0) throw new Error('nothing due to lease');
    await queue.releaseLeases('bench');
  }
  // The due ones are done with: a later round starts from the backlog alone.
  await queue.releaseLeases('bench');
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Messages per second taken in with 20 intakes at a time (group commit). */
async function enqueueRate(queue: Queue, count = enqueues): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < count) {
        const i = next++;
        await queue.enqueue(envelope(`in${i}@sink.test`), Readable.from([BODY]));
      }
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

async function backend(dialect: 'sqlite' | 'postgres'): Promise<void> {
  const test = await openTestStore(dialect);
  try {
    const store = test.store;
    const blobs = store.capabilities.bodiesInDatabase ? openDatabaseBlobStore(store) : openBlobStore(path.join(test.dir, 'blobs'));
    const queue = new Queue({ store, blobs, vault: createVault(randomBytes(32)), clock, logger: silentLogger });
    await enqueueRate(queue, 200); // warm: the first run would otherwise pay for the JIT
    const emptyRate = await enqueueRate(queue);
    const { id: template } = await queue.enqueue(envelope('template@sink.test'), Readable.from([BODY]));
    await store.db.deleteFrom('recipients').where('state', '=', 'queued').execute(); // the intake run's mail is not the backlog
    let t = performance.now();
    await addDeferred(store, template, small, 0);
    console.log(`${dialect}: ${small} deferred added in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const leaseSmall = await leaseMs(queue);
    t = performance.now();
    await addDeferred(store, template, deferred - small, small);
    console.log(`${dialect}: ${deferred} deferred in all, the rest added in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const leaseLarge = await leaseMs(queue);
    const largeRate = await enqueueRate(queue);
    const label = deferred === 1_000_000 ? '1m' : `${deferred}`;
    figure(`queue.${dialect}.lease_ms_10k`, leaseSmall, 2);
    figure(`queue.${dialect}.lease_ms_${label}`, leaseLarge, 2);
    figure(`queue.${dialect}.lease_${label}_over_10k`, leaseLarge / leaseSmall, 2);
    figure(`queue.${dialect}.accept_empty_per_s`, emptyRate, 1);
    figure(`queue.${dialect}.accept_${label}_per_s`, largeRate, 1);
    figure(`queue.${dialect}.accept_${label}_over_empty`, largeRate / emptyRate, 2);
    if (dialect === 'sqlite') figure(`queue.accept_${label}_over_empty`, largeRate / emptyRate, 2);
  } finally {
    await test.cleanup();
  }
}

console.log(`queue: lease of 50 due with ${small} and ${deferred} deferred, ${rounds} rounds; ${enqueues} enqueues, 20 at a time`);
if (only !== 'postgres') await backend('sqlite');
if (only !== 'sqlite') {
  if (await hasPostgres()) await backend('postgres');
  else console.error('queue: no PostgreSQL at 127.0.0.1:5432 (database test): the postgres figures are not measured');
}
