export * from './server/index.ts';
export * from './client/index.ts';
