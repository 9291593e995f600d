/**
 * Entry of the delivery thread: its own store connection, queue and worker loop. The main
 * thread sends 'notify' after each enqueue, `{ stop: deadlineMs }` at shutdown, 'release' to give the leases back at once (a second SIGTERM), and `{ metrics: id }` when the
 * admin listener is scraped (answered with `{ metrics: id, snapshot }`).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from './config/index.ts';
import { createDeliveryService } from './delivery-service.ts';
import { openRuntime } from './runtime.ts';

const config = workerData.config as Config;
const runtime = await openRuntime(config);
const service = createDeliveryService(runtime, config.ops.enabled ? new (await import('./metrics/index.ts')).GatewayMetrics('delivery') : undefined);
await service.start();
parentPort!.on('message', (message: string | { metrics: number } | { stop: number }) => {
  if (message === 'notify') service.notify();
  if (typeof message === 'object' && message !== null && 'metrics' in message) {
    void service.metricsSnapshot().then((snapshot) => parentPort!.postMessage({ metrics: message.metrics, snapshot }));
  }
  if (message === 'release') {
    void service.release().then(
      (released) => parentPort!.postMessage({ released }),
      () => parentPort!.postMessage({ released: -1 }),
    );
  }
  if (typeof message === 'object' && message !== null && 'stop' in message) {
    void (async () => {
      await service.drain(message.stop);
      await runtime.close();
      // Ends this thread, not the process. Deliveries given back at the deadline may still
      // hold their sockets (a receiver that never answers the data) and their timers: they
      // would keep the thread alive until the handle's grace ran out, past systemd's stop.
      process.exit(0);
    })();
  }
});
parentPort!.postMessage('ready');
