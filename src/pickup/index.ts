export { PickupStore, sealStream, openStream } from './sealed-store.ts';
export type { CreateInput, Credentials, MessageFacts, OpenedMessage, PartInput, PartKind, PartView, PickupEvent, PickupStoreOptions, Verification } from './sealed-store.ts';
export { PickupReplies } from './replies.ts';
export type { ReplyInput, ReplySummary } from './replies.ts';
export { PickupGate } from './gate.ts';
export type { GateOptions, PickupEventKind } from './gate.ts';
export { PickupError, isPickupError, newMessagePassword, normalizePassword, isWellFormedPassword } from './keys.ts';
export type { PickupFailure } from './keys.ts';
