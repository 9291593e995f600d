/**
 * The end-to-end step of delivery (issue 11): what the key store knows of a recipient (for
 * `decideRoute`, which alone decides), and carrying out an `end-to-end` route: the message
 * signed with the sender's own key when Sealgate holds one, encrypted to the recipients and to
 * the sender (the sent copy stays readable to them), headers protected per RFC 9788.
 */
import { Readable } from 'node:stream';
import type { Clock, Envelope } from '../kernel/index.ts';
import type { E2eKeyStore, E2eKind, Protector, PublicKeyMaterial } from '../e2e/index.ts';
import type { EncryptRequest, KeyState, RecipientKeys } from '../policy/index.ts';
import type { DomainJob } from './worker.ts';

export interface EndToEndRules {
  /** The sender encrypts whenever a usable key of the recipient is known (`e2e.encrypt.whenKeyKnown`). */
  encryptsWhenKeyKnown(message: Pick<Envelope, 'mailFrom' | 'authUser'>): boolean;
  /** The admin's rule for a recipient domain (`e2e.encrypt.domains`). */
  ruleFor(domain: string): EncryptRequest | undefined;
}

export interface EndToEndDeps {
  keys: Pick<E2eKeyStore, 'bestKeyFor' | 'listPeerKeys' | 'userPrivateKey'>;
  protectors: Record<E2eKind, Protector>;
  rules: EndToEndRules;
  clock: Clock;
  /**
   * Asks WKD and the keyserver for a recipient's OpenPGP key (`e2e.discovery.atDelivery`);
   * what it finds goes into the key store, under the rules of its source.
   */
  discover?: (address: string, now: Date) => Promise<unknown>;
}

const KINDS: E2eKind[] = ['openpgp', 'smime'];

/** Why no usable key: a revoked or expired one is said; a superseded or untrusted one counts as none. */
async function stateOf(deps: EndToEndDeps, address: string, kind: E2eKind, now: Date): Promise<KeyState | undefined> {
  if (await deps.keys.bestKeyFor(address, kind, now)) return 'usable';
  const held = (await deps.keys.listPeerKeys(address)).filter((k) => k.kind === kind);
  if (held.some((k) => k.state === 'active' && k.expiresAt !== null && k.expiresAt <= now.getTime())) return 'expired';
  if (held.some((k) => k.state === 'revoked')) return 'revoked';
  return undefined;
}

/**
 * The key store's answer for one recipient, as `RouteFacts.keys`; `null` when nothing at all is
 * held. Without a usable OpenPGP key, discovery is asked first (cached, so a recipient who
 * publishes nothing costs one lookup per `e2e.discovery.negativeCacheMinutes`).
 */
export async function recipientKeys(deps: EndToEndDeps, address: string): Promise<RecipientKeys> {
  const now = new Date(deps.clock.now());
  const keys: { openpgp?: KeyState; smime?: KeyState } = {};
  for (const kind of KINDS) {
    let state = await stateOf(deps, address, kind, now);
    if (kind === 'openpgp' && state !== 'usable' && deps.discover) {
      // A failed lookup is no key: the route falls back (verified link or pickup), never plaintext.
      if (await deps.discover(address, now).then(() => true, () => false)) state = await stateOf(deps, address, kind, now);
    }
    if (state) keys[kind] = state;
  }
  return Object.keys(keys).length ? keys : null;
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

/** Why an `end-to-end` route could not be carried out (the recipients are deferred with it, never sent plaintext). */
export class ProtectError extends Error {}

/**
 * The job with its body replaced by the protected message, for `recipients` (who share the
 * method). Throws `ProtectError` with a sentence when a key is missing or the protector fails.
 */
export async function protectedJob(deps: EndToEndDeps, job: DomainJob, method: E2eKind, recipients: DomainJob['recipients']): Promise<DomainJob & { signed: boolean }> {
  const now = new Date(deps.clock.now());
  const name = method === 'openpgp' ? 'OpenPGP' : 'S/MIME';
  const keys: PublicKeyMaterial[] = [];
  for (const recipient of recipients) {
    const key = await deps.keys.bestKeyFor(recipient.address, method, now);
    // Policy saw a usable key a moment ago; one gone since must not turn into plaintext.
    if (!key) throw new ProtectError(`no usable ${name} key of ${recipient.address} any more`);
    keys.push(key);
  }
  const sender = job.mailFrom;
  const own = sender ? await deps.keys.bestKeyFor(sender, method, now) : undefined;
  if (own) keys.push(own);
  const signer = sender ? await deps.keys.userPrivateKey(sender, method, now) : undefined;
  let protectedMessage: Uint8Array;
  try {
    const plain = await readAll(await job.openBody());
    protectedMessage = await deps.protectors[method].protect(plain, { sign: signer !== undefined, encrypt: true, recipients: keys, signer, now });
  } catch (error) {
    throw new ProtectError(`${name} protection failed: ${(error as Error).message}`);
  }
  const body = Buffer.from(protectedMessage.buffer, protectedMessage.byteOffset, protectedMessage.byteLength);
  return {
    ...job,
    recipients,
    openBody: async () => Readable.from([body]),
    size: body.length,
    // Armor and base64: the protected body has no binary parts left.
    bodyType: job.bodyType === 'BINARYMIME' ? '8BITMIME' : job.bodyType,
    signed: signer !== undefined,
  };
}
