export { KeyDiscovery, type DiscoveryOptions, type DiscoveryReport, type DiscoveryStep } from './discover.ts';
export { createHttpsFetcher, FetchError, type HttpsAnswer, type HttpsFetcher, type HttpsFetcherOptions } from './https-fetch.ts';
export { lookupWkd, wkdLocation, zBase32, type WkdLocation, type WkdResult } from './wkd.ts';
export { lookupKeyserver, type KeyserverResult } from './keyserver.ts';
export { autocryptHeaderValues, autocryptObservation, parseAutocrypt, type AutocryptHeader, type AutocryptParse } from './autocrypt-header.ts';
export { DiscoveryCache } from './cache.ts';
export { discoveryConfigured, keyDiscoveryFor } from './from-config.ts';
