/** The process's pino logger, to stdout (1) or stderr (2); its own file so the command's entry need not load the runtime. */
import pino from 'pino';
import type { Config } from './config/index.ts';
import type { Logger } from './kernel/index.ts';

export function createLogger(config: Config, destination: 1 | 2 = 1): Logger {
  return pino({ level: config.log.level, base: { service: 'sealgate' } }, pino.destination(destination)) as unknown as Logger;
}
