import type { SecureChoice } from '../mail/index.ts';
import type { Verification } from './message-types.ts';

/**
 * The sender's `Sealgate-Secure` choice. Ingress reads it once from a submitted message into
 * the envelope (src/smtp/server/submitted-controls.ts) and removes the header; the parser
 * lives with the other control-header code in mail/.
 */
export { parseSecureHeader, SecureHeaderError } from '../mail/index.ts';
export type SenderChoice = Omit<SecureChoice, 'verification'> & { verification: Verification };
