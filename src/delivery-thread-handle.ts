/**
 * The delivery worker in a thread of its own (delivery-thread.ts is the thread's entry), seen
 * from the thread that started it as a DeliveryService: notify, metrics, drain, release.
 */
import { Worker } from 'node:worker_threads';
import type { Config } from './config/index.ts';
import type { DeliveryService } from './delivery-service.ts';
import type { MetricsSnapshot } from './metrics/index.ts';

/** The delivery worker in a thread of its own: ingress keeps one core, delivery the other. */
export async function startDeliveryThread(config: Config): Promise<DeliveryService> {
  const thread = new Worker(new URL(import.meta.url.endsWith('.ts') ? './delivery-thread.ts' : './delivery-thread.js', import.meta.url), {
    workerData: { config },
    // Delivery streams bodies and keeps little: a small young generation keeps RSS down.
    resourceLimits: { maxYoungGenerationSizeMb: 8 },
  });
  await new Promise<void>((resolve, reject) => {
    thread.once('message', (message) => (message === 'ready' ? resolve() : reject(new Error(`delivery thread said ${String(message)}`))));
    thread.once('error', reject);
    thread.once('exit', (code) => reject(new Error(`delivery thread exited with ${code}`)));
  });
  let stopping = false;
  let exited = false;
  let nextRequest = 0;
  const snapshots = new Map<number, (snapshot: MetricsSnapshot) => void>();
  thread.on('message', (message: unknown) => {
    if (typeof message !== 'object' || message === null || !('metrics' in message)) return;
    const { metrics, snapshot } = message as { metrics: number; snapshot: MetricsSnapshot };
    snapshots.get(metrics)?.(snapshot);
    snapshots.delete(metrics);
  });
  // A dead delivery thread must not leave a gateway that accepts mail and never sends it.
  thread.on('exit', (code) => {
    exited = true;
    if (!stopping) {
      process.stderr.write(`sealgate: delivery thread exited (${code}); stopping so a supervisor can restart\n`);
      process.exit(70);
    }
  });
  return {
    name: 'delivery-thread',
    start: async () => undefined,
    notify: () => thread.postMessage('notify'),
    alive: () => !exited,
    // A scrape must not hang on a busy thread: after 2 s it gets the main thread's figures alone.
    metricsSnapshot: () =>
      new Promise<MetricsSnapshot>((resolve) => {
        const id = nextRequest++;
        const timer = setTimeout(() => {
          snapshots.delete(id);
          resolve([]);
        }, 2_000);
        snapshots.set(id, (snapshot) => {
          clearTimeout(timer);
          resolve(snapshot);
        });
        thread.postMessage({ metrics: id });
      }),
    stop: () => drain(config.shutdown.deadlineSeconds * 1000),
    drain: (deadlineMs) => drain(deadlineMs),
    release: () =>
      exited
        ? Promise.resolve(0)
        : new Promise<number>((resolve) => {
            const timer = setTimeout(() => resolve(-1), 5_000);
            const onMessage = (message: unknown) => {
              if (typeof message !== 'object' || message === null || !('released' in message)) return;
              clearTimeout(timer);
              thread.off('message', onMessage);
              resolve((message as { released: number }).released);
            };
            thread.on('message', onMessage);
            thread.postMessage('release');
          }),
  };
  async function drain(deadlineMs: number): Promise<void> {
    stopping = true;
    if (exited) return;
    const stopped = new Promise((resolve) => thread.once('exit', resolve));
    thread.postMessage({ stop: deadlineMs });
    // The thread gives its leases back at the deadline; a little more for that and its close.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stopped, new Promise((r) => (timer = setTimeout(r, deadlineMs + 5_000)))]);
    clearTimeout(timer);
    await thread.terminate();
  }
}
