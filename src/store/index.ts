export type { Database, Db, Store, StoreCapabilities, MessagesTable, RecipientsTable, ReceiptsTable, UsersTable, LinkSecurityTable, MessageChunksTable } from './schema.ts';
export { openBlobStore } from './blobs.ts';
export { openDatabaseBlobStore } from './db-blobs.ts';
export type { BlobStore } from './blobs.ts';
