export { AuditLog } from './log.ts';
export { AuditBatcher } from './batcher.ts';
export type { AuditFilter, AuditLogOptions, AuditVerifyReport } from './log.ts';
export { canonicalJson, eventHash, firstBreak, GENESIS_HASH } from './chain.ts';
export type { AuditEvent, AuditEventInput, ChainBreak } from './chain.ts';
export { auditSigner, checkpointValid } from './checkpoint.ts';
export type { AuditSigner, Checkpoint } from './checkpoint.ts';
export { auditCsv } from './export.ts';
export { auditedLogin } from './logins.ts';
