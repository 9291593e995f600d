export { DeliveryWorker } from './worker.ts';
export type { DomainJob, RecipientResult, DeliverFn, WorkerOptions } from './worker.ts';
export { queueReport } from './bounce.ts';
export { deliverToDomain } from './remote.ts';
export type { RemoteDeps } from './remote.ts';
export { ConnectionPool } from './pool.ts';
export { resolveDestinations } from './mx.ts';
export { probeDomain } from './probe.ts';
export type { ProbeDeps } from './probe.ts';
