export type { Database, Db, Store, StoreCapabilities, MessageKeysTable, MessagesTable, RecipientsTable, ReceiptsTable, UsersTable, LinkSecurityTable, MessageChunksTable, E2eUserKeysTable, E2ePeerKeysTable, E2eAutocryptPeersTable, E2eDiscoveryCacheTable } from './schema.ts';
export { openBlobStore } from './blobs.ts';
export { openDatabaseBlobStore } from './db-blobs.ts';
export type { BlobStore } from './blobs.ts';
export { openKeyFiles, openDatabaseKeyStore } from './key-files.ts';
export type { KeyStore } from './key-files.ts';
export { claimScheduledJob, scheduledJobs } from './scheduled-jobs.ts';
export { dumpPostgres, restorePostgres, schemaOf, snapshotSqlite } from './snapshot.ts';
export { SharedCommit, sharedCommit } from './shared-commit.ts';
