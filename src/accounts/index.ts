export { Users, AccountError, normalizeAlias } from './users.ts';
export type { OwnedSenders } from './users.ts';
