export { PickupStore, sealStream, openStream } from './sealed-store.ts';
export type { CreateInput, Credentials, OpenedMessage, PartInput, PartKind, PartView, PickupEvent, PickupStoreOptions, Verification } from './sealed-store.ts';
export { PickupGate } from './gate.ts';
export type { GateOptions, PickupEventKind } from './gate.ts';
export { PickupError, isPickupError, newMessagePassword, normalizePassword, isWellFormedPassword } from './keys.ts';
export type { PickupFailure } from './keys.ts';
