export type { Database, Db, Store, StoreCapabilities, MessagesTable, RecipientsTable, ReceiptsTable, UsersTable, LinkSecurityTable } from './schema.ts';
export { openBlobStore } from './blobs.ts';
export type { BlobStore } from './blobs.ts';
