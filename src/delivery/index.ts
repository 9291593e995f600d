export { DeliveryWorker } from './worker.ts';
export type { DomainJob, RecipientResult, DeliverFn, WorkerOptions } from './worker.ts';
export { queueReport } from './bounce.ts';
