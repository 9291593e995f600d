/**
 * End-to-end protection of inbound mail (issue 11, the MX role): decrypt for keys Sealgate
 * holds, verify signatures, and add one `Sealgate-E2E-Result` field before the message is
 * stored, so the mailbox server only ever sees the result.
 *
 * Where, and why here: at ingress, at the end of DATA. An OpenPGP message without integrity
 * protection must be refused, and refused to the client that sent it (550 at the end of
 * DATA, no bounce to a possibly forged sender); in the delivery worker it could only be
 * bounced. A 250 still means "durably stored": the decrypted message is what the queue
 * commits. Only a message whose top-level Content-Type says it is protected
 * (multipart/encrypted, multipart/signed, application/(x-)pkcs7-mime) is held in memory up
 * to the size limit (and a process-wide budget); every other message streams as before.
 * The step runs on the stream after ingress (and after any verification of the message as
 * received, such as DKIM, which must see the bytes before decryption).
 *
 * A decrypted message goes to every recipient of the transaction, so it is decrypted only
 * when each recipient's own key opens it; otherwise it is stored as it came (a copy resent
 * to a second user of ours must not be opened for them). A part encrypted inside a cleartext
 * multipart is never decrypted (EFAIL: no decrypted part beside attacker-controlled ones).
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { E2eKeyStore, E2eKind, Protector, PublicKeyMaterial, ReplayLedger, SignatureVerdict, UnprotectResult } from '../../e2e/index.ts';
import { autocryptObservation, SOURCE_PRECEDENCE } from '../../e2e/index.ts';
import { MailError, type Logger } from '../../kernel/index.ts';
import { inboundHeaderRewriter } from './inbound-headers.ts';
import { countHeaders, encodeHeaderLine, getHeader, parseHeaders, splitHeaderBlock, type HeaderField } from '../../mail/index.ts';

export const RESULT_HEADER = 'Sealgate-E2E-Result';

export interface InboundE2eOptions {
  hostname: string;
  openpgp: Protector;
  smime: Protector;
  keys: Pick<E2eKeyStore, 'userPrivateKey' | 'listPeerKeys' | 'peerKeyData' | 'listUserKeys' | 'userPublicKey' | 'addPeerKeys' | 'observeAutocrypt'>;
  replay: Pick<ReplayLedger, 'claim' | 'release'>;
  trustAnchors: Uint8Array[];
  harvest: boolean;
  /** Bytes of protected messages held at once over all sessions; past it, 452 (try later). */
  maxBufferedBytes: number;
  logger: Logger;
}

/** One transaction's e2e step: the stream to put between ingress and the queue, and what to do once its fate is known. */
export interface InboundE2eTransaction {
  stream: Transform;
  /** After the 250: harvest keys (never delays the reply). */
  accepted(): void;
  /** The queue refused: a replay claim is given back, so the retry is not a "replay". */
  refused(): void;
}

export type ProtectionKind = { kind: E2eKind; encrypted: boolean };

/** What the top-level header block says the message is; null for everything we stream. */
export function protectionOf(headers: readonly HeaderField[]): ProtectionKind | null {
  // Two Content-Type fields: readers differ on which counts, so we claim nothing about it.
  if (countHeaders(headers, 'Content-Type') !== 1) return null;
  const value = (getHeader(headers, 'Content-Type') ?? '').replace(/\r?\n[ \t]+/g, ' ');
  const type = value.split(';')[0].trim().toLowerCase();
  const protocol = /;\s*protocol\s*=\s*"?([^";\s]+)"?/i.exec(value)?.[1]?.toLowerCase();
  if (type === 'multipart/encrypted' && protocol === 'application/pgp-encrypted') return { kind: 'openpgp', encrypted: true };
  if (type === 'multipart/signed' && protocol === 'application/pgp-signature') return { kind: 'openpgp', encrypted: false };
  if (type === 'multipart/signed' && (protocol === 'application/pkcs7-signature' || protocol === 'application/x-pkcs7-signature')) return { kind: 'smime', encrypted: false };
  if (type === 'application/pkcs7-mime' || type === 'application/x-pkcs7-mime') {
    const smimeType = /;\s*smime-type\s*=\s*"?([^";\s]+)"?/i.exec(value)?.[1]?.toLowerCase();
    return { kind: 'smime', encrypted: smimeType !== 'signed-data' };
  }
  return null;
}

/** The one bare address of a From field, or null when there is none or more than one. */
export function fromAddress(value: string | undefined): string | null {
  if (!value) return null;
  const text = value.replace(/\r?\n[ \t]+/g, ' ').replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\((?:[^()\\]|\\.)*\)/g, ' ');
  if (text.includes(',')) return null;
  const angle = /<([^<>\s]+@[^<>\s]+)>/.exec(text);
  const bare = angle ? angle[1] : text.trim();
  return /^[^\s<>@]+@[^\s<>@]+$/.test(bare) ? bare.toLowerCase() : null;
}

/** The address of the one From field, or null when there is not exactly one field with one address. */
function soleFromAddress(headers: readonly HeaderField[]): string | null {
  return countHeaders(headers, 'From') === 1 ? fromAddress(getHeader(headers, 'From')) : null;
}

/** A value an attacker may have chosen (a user ID, a reason), as a quoted string of printable ASCII. */
function quotedText(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '?').slice(0, 200);
  return `"${clean}"`;
}

export interface ResultFacts {
  kind: E2eKind;
  decrypted: boolean;
  /** Why a protected message was not decrypted. */
  notDecrypted?: string;
  signature: SignatureVerdict | null;
  keySource?: string;
  malleable: boolean;
  replay: 'yes' | 'no' | 'unknown' | 'not-checked';
}

/** The header's value: authserv-style host first, then `name=value` pairs (docs/flow.md describes them). */
export function resultValue(hostname: string, facts: ResultFacts): string {
  const parts = [hostname, `kind=${facts.kind}`, `decrypted=${facts.decrypted ? 'yes' : 'no'}`];
  if (facts.notDecrypted) parts.push(`not-decrypted=${quotedText(facts.notDecrypted)}`);
  const sig = facts.signature;
  if (!sig) parts.push('signature=none');
  else {
    parts.push(`signature=${sig.state === 'unknown-key' ? 'unknown-key' : sig.state}`);
    if (sig.state !== 'unknown-key' && sig.signer) parts.push(`signer=${quotedText(sig.signer)}`);
    if (sig.keyId) parts.push(`key=${quotedText(sig.keyId)}`);
    if (facts.keySource) parts.push(`key-source=${facts.keySource}`);
    if (sig.state !== 'invalid' && sig.signedAt) parts.push(`signed-at=${sig.signedAt.toISOString()}`);
    if (sig.state === 'invalid') parts.push(`reason=${quotedText(sig.reason)}`);
  }
  parts.push(`malleable=${facts.malleable ? 'yes' : 'no'}`, `replay=${facts.replay}`);
  return parts.join('; ');
}

function isIntegrityRefusal(error: unknown): boolean {
  // crypto.ts integrityRefusal(): the one e2e error that refuses the message rather than leaving it as it came.
  return error instanceof MailError && /without integrity protection/.test(error.message);
}

export function createInboundE2e(options: InboundE2eOptions) {
  const { logger, keys } = options;
  // The decrypted headers (RFC 9788 protected ones) came from outside too: the same removal as the outer block's.
  const cleanHeaders = inboundHeaderRewriter(options.hostname, logger);
  let buffered = 0;

  async function verificationKeys(from: string | null, kind: E2eKind): Promise<{ material: PublicKeyMaterial[]; sources: Map<string, string> }> {
    const material: PublicKeyMaterial[] = [];
    const sources = new Map<string, string>();
    if (!from) return { material, sources };
    for (const own of await keys.listUserKeys(from)) {
      if (own.kind !== kind) continue;
      const data = await keys.userPublicKey(own.fingerprint);
      if (data) material.push({ kind, address: from, data: data.data });
      sources.set(own.fingerprint.toLowerCase(), 'own');
    }
    // Only the strongest source held speaks for the address (our user's own key first): an
    // Autocrypt header or a harvested certificate is anyone's to send, and a key learned from
    // one must not make a signature "valid" beside the key an admin imported or WKD serves.
    if (sources.size) return { material, sources };
    const active = (await keys.listPeerKeys(from)).filter((peer) => peer.kind === kind && peer.state === 'active');
    const best = Math.min(...active.map((peer) => SOURCE_PRECEDENCE.indexOf(peer.source)));
    for (const peer of active) {
      if (SOURCE_PRECEDENCE.indexOf(peer.source) !== best) continue;
      const data = await keys.peerKeyData(peer.fingerprint);
      if (data) material.push({ kind, address: from, data: data.data });
      sources.set(peer.fingerprint.toLowerCase(), peer.source);
    }
    return { material, sources };
  }

  /** Decrypts and verifies; returns the bytes to store and what the header says, or throws the refusal. */
  async function open(message: Buffer, headers: HeaderField[], protection: ProtectionKind, recipients: string[], now: Date): Promise<{ stored: Buffer; facts: ResultFacts; result: UnprotectResult | null; from: string | null }> {
    const protector = protection.kind === 'openpgp' ? options.openpgp : options.smime;
    const from = fromAddress(getHeader(headers, 'From'));
    const verify = await verificationKeys(from, protection.kind);
    const base = { verificationKeys: verify.material, trustAnchors: options.trustAnchors, now };
    let result: UnprotectResult | null = null;
    let notDecrypted: string | undefined;
    if (protection.encrypted) {
      const held = await Promise.all(recipients.map((r) => keys.userPrivateKey(r, protection.kind, now)));
      // A message one key cannot open is tried with the others only to find integrity-less data.
      for (const [i, key] of held.entries()) {
        if (!key) {
          notDecrypted ??= `no ${protection.kind} key of ${recipients[i]} is held here`;
          continue;
        }
        let opened: UnprotectResult;
        try {
          opened = await protector.unprotect(message, { ...base, decryptionKeys: [key] });
        } catch (error) {
          if (isIntegrityRefusal(error)) throw error;
          notDecrypted ??= `${recipients[i]}: ${(error as Error).message}`;
          continue;
        }
        if (!opened.decrypted) notDecrypted ??= `not encrypted to the key of ${recipients[i]}`;
        else result ??= opened;
      }
      if (notDecrypted) result = null;
    } else {
      try {
        result = await protector.unprotect(message, { ...base, decryptionKeys: [] });
      } catch (error) {
        const reason = error instanceof MailError ? error.message : 'the signature cannot be read';
        return { stored: message, result: null, from, facts: { kind: protection.kind, decrypted: false, signature: { state: 'invalid', signer: null, keyId: null, reason }, malleable: false, replay: 'not-checked' } };
      }
    }
    if (!result) return { stored: message, result: null, from, facts: { kind: protection.kind, decrypted: false, notDecrypted, signature: null, malleable: false, replay: 'not-checked' } };
    // Signed only: the message stays as it came (the reader's client can check it too).
    // Decrypted: the From the mailbox shows is the outer one, which SPF/DKIM/DMARC judged.
    const protectedFields = parseHeaders(headerText(Buffer.from(result.message)));
    const protectedFrom = soleFromAddress(protectedFields);
    const stored = result.decrypted ? withCheckedFrom(cleanHeaders(Buffer.from(result.message)), protectedFrom !== null && protectedFrom === from ? null : headers) : message;
    let signature = result.signature;
    if (signature?.state === 'valid' && (protectedFrom !== from || fromAddress(getHeader(parseHeaders(headerText(stored)), 'From')) !== from)) {
      // The protected headers (what a header-protection reader shows) name another sender than the one whose keys we checked against.
      signature = { state: 'invalid', signer: signature.signer, keyId: signature.keyId, reason: 'the signer is not the From address of the message' };
    }
    const keySource = signature && signature.state !== 'invalid' && signature.keyId ? (verify.sources.get(signature.keyId.toLowerCase()) ?? (signature.state === 'valid' && protection.kind === 'smime' ? 'certificate-chain' : undefined)) : undefined;
    return { stored, result: { ...result, signature }, from, facts: { kind: protection.kind, decrypted: result.decrypted, signature, keySource, malleable: result.malleable, replay: 'not-checked' } };
  }

  /**
   * The decrypted message with the outer From fields in place of its own: its protected From
   * differs from the outer one (or is not one address), and only the outer one was checked at
   * the door (DMARC), so it is the one the mailbox may show. `outer` null: keep it as it is.
   */
  function withCheckedFrom(message: Buffer, outer: HeaderField[] | null): Buffer {
    if (!outer) return message;
    const end = splitHeaderBlock(message)?.headerEnd ?? message.length;
    const lines = message.subarray(0, end).toString('latin1').split('\r\n');
    const kept: string[] = [];
    let at = -1;
    let inFrom = false;
    for (const text of lines) {
      if (inFrom && (text[0] === ' ' || text[0] === '\t')) continue;
      inFrom = /^from[ \t]*:/i.test(text);
      if (inFrom) {
        if (at < 0) at = kept.length;
        continue;
      }
      kept.push(text);
    }
    kept.splice(at < 0 ? 0 : at, 0, ...outer.filter((f) => f.name.toLowerCase() === 'from').map((f) => f.raw));
    return Buffer.concat([Buffer.from(kept.join('\r\n'), 'latin1'), message.subarray(end)]);
  }

  function headerText(message: Buffer): string {
    const end = splitHeaderBlock(message)?.headerEnd ?? message.length;
    return message.subarray(0, end).toString('latin1');
  }

  return {
    begin(recipients: string[], now: Date, maxMessageBytes: number, hooks: { decrypted?(kind: E2eKind): void } = {}): InboundE2eTransaction {
      const distinct = [...new Set(recipients.map((r) => r.toLowerCase()))];
      let head: Buffer[] | null = [];
      let headBytes = 0;
      let protection: ProtectionKind | null = null;
      let headers: HeaderField[] = [];
      let rawHead = '';
      let held: Buffer[] = [];
      let heldBytes = 0;
      let claim: string | null = null;
      let harvestable: { from: string | null; verdict: SignatureVerdict | null; kind: E2eKind | null } = { from: null, verdict: null, kind: null };
      const release = () => {
        buffered -= heldBytes;
        heldBytes = 0;
        held = [];
      };
      const hold = (chunk: Buffer): MailError | null => {
        if (buffered + chunk.length > options.maxBufferedBytes) {
          return new MailError(452, '4.3.1', 'Too many encrypted or signed messages are being processed right now; try again later', 'smtp');
        }
        buffered += chunk.length;
        heldBytes += chunk.length;
        held.push(chunk);
        return null;
      };
      const stream = new Transform({
        transform(chunk: Buffer, _enc, done: TransformCallback) {
          if (head) {
            head.push(chunk);
            headBytes += chunk.length;
            const joined = Buffer.concat(head);
            const split = splitHeaderBlock(joined);
            if (!split && headBytes < maxMessageBytes) return done();
            head = null;
            rawHead = joined.subarray(0, split?.headerEnd ?? joined.length).toString('latin1');
            headers = parseHeaders(rawHead);
            harvestable.from = fromAddress(getHeader(headers, 'From'));
            protection = protectionOf(headers);
            if (!protection) return done(null, joined);
            return done(hold(joined));
          }
          if (!protection) return done(null, chunk);
          done(hold(chunk));
        },
        flush(done: TransformCallback) {
          if (head) {
            // The message ended inside its header block: nothing protected to open.
            const joined = Buffer.concat(head);
            rawHead = joined.toString('latin1');
            headers = parseHeaders(rawHead);
            harvestable.from = fromAddress(getHeader(headers, 'From'));
            return done(null, joined);
          }
          if (!protection) return done();
          const message = Buffer.concat(held);
          const kind = protection.kind;
          open(message, headers, protection, distinct, now)
            .then(async ({ stored, facts, result }) => {
              // Compressed plaintext can be far larger than its ciphertext: the size limit holds for what is stored.
              if (stored.length > maxMessageBytes) throw new MailError(552, '5.3.4', `The decrypted message exceeds the size limit of ${maxMessageBytes} bytes`, 'smtp');
              const sig = result?.signature;
              if (result && sig && sig.state === 'valid' && sig.signedAt) {
                // The protected Message-ID (RFC 9788), which the signature covers, not the copy outside: a replay can change that.
                const messageId = getHeader(parseHeaders(headerText(Buffer.from(result.message))), 'Message-ID')?.trim();
                if (messageId) {
                  const verdict = await options.replay.claim({ signerKey: sig.keyId, messageId, signedAt: sig.signedAt }, now);
                  facts.replay = verdict.state === 'replay' ? 'yes' : verdict.state === 'too-old' ? 'unknown' : 'no';
                  if (verdict.state !== 'replay') claim = verdict.digest;
                } else facts.replay = 'unknown';
              }
              harvestable = { from: harvestable.from, verdict: sig ?? null, kind };
              logger.info({ kind, decrypted: facts.decrypted, signature: sig?.state ?? null, replay: facts.replay, malleable: facts.malleable }, 'inbound end-to-end result');
              release();
              if (facts.decrypted && kind) hooks.decrypted?.(kind);
              done(null, Buffer.concat([encodeHeaderLine(RESULT_HEADER, resultValue(options.hostname, facts)), stored]));
            })
            .catch((error: unknown) => {
              release();
              if (isIntegrityRefusal(error)) logger.warn({ kind }, 'refused an OpenPGP message without integrity protection');
              done(error instanceof MailError ? error : new MailError(451, '4.3.0', 'Local error in processing the encrypted message; try again later', 'smtp', { cause: error }));
            });
        },
        destroy(error, callback) {
          release();
          callback(error);
        },
      });
      return {
        stream,
        accepted() {
          if (!options.harvest) return;
          harvest(rawHead, headers, harvestable, now).catch((error: Error) => logger.warn({ err: error.message }, 'key harvesting from an inbound message failed'));
        },
        refused() {
          if (claim) options.replay.release(claim).catch((error: Error) => logger.warn({ err: error.message }, 'could not release a replay claim'));
          claim = null;
        },
      };
    },
  };

  async function harvest(rawHead: string, headers: HeaderField[], seen: { from: string | null; verdict: SignatureVerdict | null; kind: E2eKind | null }, now: Date): Promise<void> {
    const from = seen.from;
    if (!from) return;
    const dateValue = getHeader(headers, 'Date');
    const date = dateValue ? Date.parse(dateValue) : NaN;
    const observation = autocryptObservation(rawHead, from, Number.isFinite(date) ? date : null);
    await keys.observeAutocrypt(observation, now);
    const verdict = seen.verdict;
    // Only a certificate whose signature verified and that names the From address (the S/MIME
    // verdict checked both) is kept, as 'harvested', the weakest source.
    if (seen.kind === 'smime' && verdict?.state === 'valid' && verdict.certificate && verdict.signer.toLowerCase() === from) {
      await keys.addPeerKeys(verdict.certificate, 'harvested', now, from);
    }
  }
}

export type InboundE2e = ReturnType<typeof createInboundE2e>;
