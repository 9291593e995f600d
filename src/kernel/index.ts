export { MailError, isMailError } from './errors.ts';
export { systemClock, LINK_LEVELS, isLinkLevel } from './types.ts';
export type {
  Clock,
  Service,
  Logger,
  TlsPolicyMode,
  LinkRequirement,
  DsnNotify,
  RecipientSpec,
  Envelope,
  OwnNotice,
  PickupControl,
  DeliveryReceipt,
  ComplianceReport,
  Safeguard,
  ReceiptRoute,
} from './types.ts';
export { crashPoint } from './crash-point.ts';
export { ExpiringMap } from './expiring-map.ts';
export { dataChunks } from './data-chunks.ts';
export { randomAlphanumeric } from './random-id.ts';
