export { configSchema } from './schema.ts';
export type { Config, ConfigInput } from './schema.ts';
export { loadConfig, parseConfig, envOverrides, ConfigError, storeUrl, masterKeyPath } from './load.ts';
export type { LoadOptions } from './load.ts';
