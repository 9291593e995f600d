/**
 * Entry of the delivery thread: its own store connection, queue and worker loop. The main
 * thread sends 'notify' after each enqueue and 'stop' at shutdown.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from './config/index.ts';
import { createDeliveryService } from './delivery-service.ts';
import { openRuntime } from './runtime.ts';

const runtime = await openRuntime(workerData.config as Config);
const service = createDeliveryService(runtime);
await service.start();
parentPort!.on('message', (message: string) => {
  if (message === 'notify') service.notify();
  if (message === 'stop') {
    void (async () => {
      await service.stop();
      await runtime.close();
      parentPort!.postMessage('stopped');
      parentPort!.close();
    })();
  }
});
parentPort!.postMessage('ready');
