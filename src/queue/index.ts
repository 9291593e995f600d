export { Queue } from './queue.ts';
export { BODY_KEY_BYTES, type IntakeCommit, type IntakeRows } from './enqueue.ts';
export type { LeasedGroup, QueuedRecipient, Settlement, StoredEnvelope, MessageSummary, MessageDetail } from './types.ts';
export type { QueueSelector, QueueTotals } from './hold.ts';
export { MESSAGE_ID_LENGTH, QUEUE_ID_PATTERN } from './message-id.ts';
export { nextAttempt, delayNoticeDue } from './schedule.ts';
export type { RetryOptions } from './schedule.ts';
export { checkReceipt, receiptDisagreement } from './receipts.ts';
export type { PickupOpenedFacts, ReceiptCheck, StoredReceipt, TraceFilter } from './receipts.ts';
