import { createPrivateKey, KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let patched = false;
/** False when mailauth's signer was loaded before the patch (then it gets PEM, parsed each time). */
let keyObjectsAccepted = false;

/**
 * mailauth takes a signing key as PEM and parses it for every signature: an RSA-2048 PEM costs
 * ~300 µs to parse, more than the signature itself (~250 µs), twice per ARC seal (AMS through
 * `getPrivateKey`, AS straight into `crypto.sign`). Given a KeyObject instead, `crypto.sign`
 * takes it as is, and `getPrivateKey` (which would refuse one) is taught to pass it through.
 * It must be patched before mailauth's DKIM signer module reads it from tools.js, so every
 * load of mailauth goes through here.
 */
function patchGetPrivateKey(): void {
  if (patched) return;
  patched = true;
  keyObjectsAccepted = !(require.resolve('mailauth/lib/dkim/dkim-signer.js') in require.cache);
  const tools = require('mailauth/lib/tools.js') as { getPrivateKey: (key: unknown) => KeyObject };
  const original = tools.getPrivateKey;
  tools.getPrivateKey = (key: unknown) => (key instanceof KeyObject ? key : original(key));
}

interface DkimStatus {
  result: string;
  comment?: string | boolean;
}
type VerifySignature = (signatureHeader: { type?: string }, fallback?: boolean) => Promise<{ status: DkimStatus }>;
let bodyHashPatched = false;

/**
 * RFC 6376 §6.1.3: a body hash that does not match is a PERMFAIL, which RFC 8601 §2.7.1 writes
 * `fail`; lenient mailauth (we do not run its strict mode) writes `neutral`, so a message
 * altered after signing read as merely unverifiable. Set on the verifier's result before
 * mailauth formats the header from it, so what we add and ARC-seal says fail. ARC message
 * signatures are left as they are: anything but a pass breaks the chain already.
 */
function patchBodyHashVerdict(): void {
  if (bodyHashPatched) return;
  bodyHashPatched = true;
  const { DkimVerifier } = require('mailauth/lib/dkim/dkim-verifier.js') as { DkimVerifier: { prototype: { verifySignature: VerifySignature } } };
  const original = DkimVerifier.prototype.verifySignature;
  DkimVerifier.prototype.verifySignature = async function (this: unknown, signatureHeader, fallback) {
    const result = await original.call(this, signatureHeader, fallback);
    if (signatureHeader.type === 'DKIM' && result.status.result === 'neutral' && result.status.comment === 'body hash did not verify') result.status.result = 'fail';
    return result;
  };
}

export async function loadMailauth(): Promise<typeof import('mailauth')> {
  patchGetPrivateKey();
  patchBodyHashVerdict();
  return import('mailauth');
}

export async function loadDkimSign(): Promise<typeof import('mailauth/lib/dkim/sign.js')> {
  patchGetPrivateKey();
  return import('mailauth/lib/dkim/sign.js');
}

const parsedKeys = new Map<string, KeyObject>();

/** The key to hand mailauth: the PEM's KeyObject, parsed once (a few keys per gateway: DKIM and ARC). */
export function signingKey(pem: string): KeyObject | string {
  if (!keyObjectsAccepted) return pem;
  let key = parsedKeys.get(pem);
  if (!key) {
    if (parsedKeys.size >= 64) parsedKeys.clear();
    key = createPrivateKey(pem);
    parsedKeys.set(pem, key);
  }
  return key;
}
