import type { Logger } from '../../src/kernel/index.ts';

/** A Logger that drops everything, for unit tests that do not look at logs. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {}, child: () => silentLogger };
