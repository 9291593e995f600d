export { configSchema } from './schema.ts';
export type { Config, ConfigInput } from './schema.ts';
export { loadConfig, parseConfig, envOverrides, ConfigError, storeUrl, masterKeyPath } from './load.ts';
export type { LoadOptions } from './load.ts';
export { noticeAddress, MAIL_LOCALES } from './branding.ts';
export type { BrandingConfig } from './branding.ts';
