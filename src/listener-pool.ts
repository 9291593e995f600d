/**
 * The listener workers of `serve.workers` above 1, seen from the cluster's primary. node:cluster
 * shares each listening socket: the primary accepts and hands connections to the workers in
 * turn (round robin), so every worker gets its share however the kernel would wake them.
 *
 * Messages, primary → worker: `{ type: 'config' }` (once, first), `{ type: 'metrics', id }`,
 * `{ type: 'readiness', id }`, `{ type: 'stop' }`. Worker → primary: `{ type: 'listening',
 * listeners }`, `{ type: 'notify' }` after each enqueue, `{ type: 'failed', error }` when it
 * cannot start, and the answers `{ type: 'metrics', id, snapshot }`, `{ type: 'readiness', id,
 * checks }`. Advanced serialization: configs, snapshots and rows go as structured clones.
 *
 * On SQLite the primary is the store's one writer (`writesThroughPrimary`): a worker stores a
 * message's body and key itself, then sends `{ type: 'call', id, call }` with its rows (or a
 * batch of audit events) and answers 250 on `{ type: 'result', id }`, which the primary sends
 * once they are committed and durable; `{ type: 'result', id, error }` when they are not. Each
 * worker a writer of its own queued on the file's write lock and relayed slower than one process.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Config } from './config/index.ts';
import type { Logger, Service } from './kernel/index.ts';
import type { MetricsSnapshot } from './metrics/index.ts';
import type { ReadinessCheck } from './web/index.ts';
import type { ListenerInfo } from './gateway-front.ts';
import type { IntakeRows } from './queue/index.ts';
import type { AuditEventInput } from './audit/index.ts';

/** What a listener worker asks the primary, the one writer of a SQLite store, to commit. */
export type PrimaryCall = { kind: 'intake'; rows: IntakeRows } | { kind: 'audit'; events: AuditEventInput[] };

export type WorkerMessage =
  | { type: 'listening'; listeners: ListenerInfo[] }
  | { type: 'notify' }
  | { type: 'failed'; error: string }
  | { type: 'metrics'; id: number; snapshot: MetricsSnapshot }
  | { type: 'readiness'; id: number; checks: ReadinessCheck[] }
  | { type: 'call'; id: number; call: PrimaryCall };

export type PrimaryMessage =
  | { type: 'config'; config: Config; index: number; writesThroughPrimary: boolean }
  | { type: 'metrics'; id: number }
  | { type: 'readiness'; id: number }
  | { type: 'stop' }
  | { type: 'result'; id: number; error?: string };

export interface ListenerPool extends Service {
  /** What the first worker to listen reported (every worker listens on the same sockets). */
  listeners(): ListenerInfo[];
  /** Each live worker's registry; `[]` for one that does not answer within 2 s. */
  metricsSnapshots(): Promise<MetricsSnapshot>[];
  /** Per worker: alive, answering within 2 s, every listener open. */
  readiness(): Promise<ReadinessCheck[]>;
}

interface Slot {
  index: number;
  worker?: Worker;
  listening: boolean;
  /** Forks in a row that died before listening: the next refork waits longer. */
  failures: number;
}

/** A scrape or health check must not hang on a busy or dying worker. */
const ANSWER_MS = 2_000;

/**
 * V8's young generation, per worker. Left alone it grows to 128 MB under load (Node 24), most of
 * it resident in every worker; at 2 MB semi-spaces the relay's memory phase peaked ~60 MB lower
 * per process for no measurable loss of rate (bench/README.md "Memory"). An operator's own
 * `--max-semi-space-size` (node's flags or NODE_OPTIONS) wins.
 */
export const WORKER_SEMI_SPACE_MB = 2;

export function workerExecArgv(execArgv: string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].some((flag) => /^--max-semi-space-size(=|$)/.test(flag));
  return given ? execArgv : [...execArgv, `--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`];
}

/**
 * `commit`: the workers' writes run here (SQLite); without it each worker writes to the store itself
 * (PostgreSQL, whose row locks let many writers work at once).
 */
export function createListenerPool(options: { config: Config; count: number; logger: Logger; notify(): void; commit?(call: PrimaryCall): Promise<void> }): ListenerPool {
  const { config, count, logger, notify, commit } = options;
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, listening: false, failures: 0 }));
  let reported: ListenerInfo[] = [];
  let stopping = false;
  let nextId = 0;
  const answers = new Map<number, (message: WorkerMessage) => void>();
  let startup: { resolve(): void; reject(error: Error): void } | undefined;

  cluster.setupPrimary({ exec: fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './listener-worker.ts' : './listener-worker.js', import.meta.url)), serialization: 'advanced', execArgv: workerExecArgv() });

  function fork(slot: Slot): void {
    const worker = cluster.fork();
    slot.worker = worker;
    slot.listening = false;
    worker.send({ type: 'config', config, index: slot.index, writesThroughPrimary: commit !== undefined } satisfies PrimaryMessage);
    const answer = (message: PrimaryMessage) => {
      // A worker gone meanwhile gets no answer: its client had no 250, and sends again.
      if (worker.isConnected()) worker.send(message, (error: Error | null) => error && logger.warn({ worker: slot.index, err: error.message }, 'listener worker did not get its answer'));
    };
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'call') {
        const done = commit ? commit(message.call) : Promise.reject(new Error('this primary does not write for its workers'));
        done.then(
          () => answer({ type: 'result', id: message.id }),
          (error: Error) => answer({ type: 'result', id: message.id, error: error.message }),
        );
      } else if (message.type === 'notify') notify();
      else if (message.type === 'listening') {
        slot.listening = true;
        slot.failures = 0;
        if (reported.length === 0) reported = message.listeners;
        if (slots.every((s) => s.listening)) startup?.resolve();
      } else if (message.type === 'failed') {
        logger.error({ worker: slot.index, err: message.error }, 'listener worker could not start');
        startup?.reject(new Error(`listener worker ${slot.index} could not start: ${message.error}`));
      } else answers.get(message.id)?.(message);
    });
    worker.on('exit', (code, signal) => {
      if (slot.worker === worker) slot.worker = undefined;
      slot.listening = false;
      if (stopping) return;
      if (startup) {
        startup.reject(new Error(`listener worker ${slot.index} exited (${signal ?? code}) before it listened; see its log lines above`));
        return;
      }
      slot.failures += 1;
      // Soon the first time; a worker that keeps dying at start is retried more slowly. A clean
      // exit (0) is a worker that got SIGINT or SIGTERM itself, as the whole process group does
      // on a Ctrl-C: the wait lets the primary's own signal mark the pool stopping first.
      const delayMs = code === 0 ? 2_000 : Math.min(30_000, 250 * 2 ** (slot.failures - 1));
      logger.error({ worker: slot.index, pid: worker.process.pid, code, signal, retryInMs: delayMs }, 'listener worker died; forking it again');
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delayMs).unref();
    });
  }

  /** Asks one worker and waits at most ANSWER_MS; undefined when it did not answer. */
  function ask(slot: Slot, type: 'metrics' | 'readiness'): Promise<WorkerMessage | undefined> {
    const worker = slot.worker;
    if (!worker || !worker.isConnected()) return Promise.resolve(undefined);
    const id = nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        answers.delete(id);
        resolve(undefined);
      }, ANSWER_MS);
      answers.set(id, (message) => {
        clearTimeout(timer);
        answers.delete(id);
        resolve(message);
      });
      try {
        worker.send({ type, id } satisfies PrimaryMessage);
      } catch {
        resolve(undefined);
      }
    });
  }

  return {
    name: 'listener-workers',
    async start() {
      const started = new Promise<void>((resolve, reject) => (startup = { resolve, reject }));
      for (const slot of slots) fork(slot);
      try {
        await started;
      } catch (error) {
        // A gateway that failed to start leaves no worker behind.
        stopping = true;
        for (const slot of slots) slot.worker?.process.kill('SIGKILL');
        throw error;
      } finally {
        startup = undefined;
      }
      logger.info({ workers: count, pids: slots.map((s) => s.worker?.process.pid) }, 'listener workers listening');
    },
    listeners: () => reported,
    metricsSnapshots: () => slots.map(async (slot) => ((await ask(slot, 'metrics')) as { snapshot?: MetricsSnapshot } | undefined)?.snapshot ?? []),
    async readiness() {
      const checks = await Promise.all(
        slots.map(async (slot): Promise<ReadinessCheck[]> => {
          const name = `listener worker ${slot.index}`;
          if (!slot.worker || !slot.listening) return [{ name, ok: false, detail: slot.worker ? 'starting, not listening yet' : 'exited; being forked again' }];
          const answer = (await ask(slot, 'readiness')) as { checks?: ReadinessCheck[] } | undefined;
          if (!answer?.checks) return [{ name, ok: false, detail: `did not answer within ${ANSWER_MS / 1000} s` }];
          return answer.checks.map((check) => ({ ...check, name: `${check.name} (worker ${slot.index})` }));
        }),
      );
      return checks.flat();
    },
    /** Each worker stops listening, finishes its sessions (its listeners' close grace) and exits. */
    async stop() {
      stopping = true;
      const graceMs = Math.min(10_000, Math.floor((config.shutdown.deadlineSeconds * 1000) / 3));
      await Promise.all(
        slots.map(async (slot) => {
          const worker = slot.worker;
          if (!worker || worker.process.exitCode !== null || worker.process.signalCode !== null) return;
          const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
          try {
            worker.send({ type: 'stop' } satisfies PrimaryMessage);
          } catch {
            worker.process.kill('SIGTERM');
          }
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs + 5_000)));
          if ((await Promise.race([exited, late])) === 'late') {
            logger.warn({ worker: slot.index }, 'listener worker did not stop in time; killing it');
            worker.process.kill('SIGKILL');
            await exited;
          }
          clearTimeout(timer);
        }),
      );
    },
  };
}
