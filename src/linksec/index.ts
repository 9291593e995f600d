export { levelOf, meets, LEVEL_ORDER } from './level.ts';
export type { LinkLevel, LinkObservation } from './level.ts';
export { LinkSecurityMemory } from './memory.ts';
export type { LinkRecord } from './memory.ts';
