import type { SMTPServerSession } from 'smtp-server';
import { MailError, type Envelope } from '../../kernel/index.ts';
import { anonymizeHeaderBlock, editHeaderBlock, getHeader, headerValueText, isDefaultSecureChoice, parseHeaders, parseSecureHeader, SecureHeaderError, type AnonymizeOptions } from '../../mail/index.ts';
import { checkHeaderSenders } from './sender-check.ts';

export interface SubmittedControlsOptions {
  pickupTag?: string;
  /** Seals the sender's passphrase or answer (vault) before it goes into the envelope. */
  sealSecret?: (secret: string) => string;
  /** Why an answer cannot serve (nothing left once case, spaces and punctuation are ignored), or null. */
  answerRefusal?: (answer: string) => string | null;
}

const ENCRYPT_REQUESTS = ['pgp', 'smime', 'auto'] as const;
const isEncryptRequest = (value: string): value is (typeof ENCRYPT_REQUESTS)[number] => (ENCRYPT_REQUESTS as readonly string[]).includes(value);

/*
 * Submission: the controls a user put in the header block are read here, once, into the
 * envelope (queue metadata), and removed from the message itself, together with the subject
 * tag: every route then sends the same clean copy (issue 8 item 13). The header sender is
 * checked against the account here too, once the header block is complete.
 */
export function submittedHeaderRewriter(session: SMTPServerSession, envelope: Envelope, options: SubmittedControlsOptions): (block: Buffer) => Buffer | MailError {
  return (block) => {
    const text = block.toString('latin1');
    const forged = checkHeaderSenders(session, text);
    if (forged) return forged;
    const headers = parseHeaders(text);
    const encrypt = getHeader(headers, 'Sealgate-Encrypt');
    if (encrypt !== undefined) {
      const value = encrypt.trim().toLowerCase();
      if (!isEncryptRequest(value)) {
        return new MailError(550, '5.6.0', `Sealgate-Encrypt: ${JSON.stringify(encrypt.trim().slice(0, 40))} is not a choice; write pgp, smime or auto (auto: whichever key of the recipient is known)`, 'smtp');
      }
      envelope.encrypt = value;
    }
    const secure = getHeader(headers, 'Sealgate-Secure');
    if (secure !== undefined) {
      envelope.pickup = true;
      if (!isDefaultSecureChoice(secure)) {
        let choice;
        try {
          // The value as the sender wrote it (UTF-8 or encoded words): the answer must compare
          // as the recipient will type it, and the question shows as written.
          choice = parseSecureHeader(headerValueText(secure), 'code');
        } catch (error) {
          if (error instanceof SecureHeaderError) return new MailError(550, '5.6.0', error.message, 'smtp');
          throw error;
        }
        if (choice.passphraseOrAnswer !== undefined && !options.sealSecret) return new MailError(550, '5.7.1', 'Sealgate-Secure with a passphrase or answer is not accepted on this listener', 'smtp');
        const refusal = choice.verification === 'question' && choice.passphraseOrAnswer !== undefined ? options.answerRefusal?.(choice.passphraseOrAnswer) : null;
        if (refusal) return new MailError(550, '5.6.0', `Sealgate-Secure: ${refusal}`, 'smtp');
        envelope.pickupControl = {
          verification: choice.verification,
          question: choice.question,
          sealedSecret: choice.passphraseOrAnswer !== undefined ? options.sealSecret?.(choice.passphraseOrAnswer) : undefined,
        };
      }
    }
    const { block: edited } = editHeaderBlock(text, { dropControls: true, subjectTag: options.pickupTag });
    return edited === text ? block : Buffer.from(edited, 'latin1');
  };
}

/**
 * Anonymous submission (issue 12): after the controls are read and removed, the header block
 * loses what names the client (mail/anonymity.ts). The sender check above has seen the block
 * as it came.
 */
export function anonymousHeaderRewriter(submitted: (block: Buffer) => Buffer | MailError, options: AnonymizeOptions): (block: Buffer) => Buffer | MailError {
  return (block) => {
    const controlled = submitted(block);
    if (controlled instanceof MailError) return controlled;
    const text = controlled.toString('latin1');
    const { block: edited } = anonymizeHeaderBlock(text, options);
    return edited === text ? controlled : Buffer.from(edited, 'latin1');
  };
}
