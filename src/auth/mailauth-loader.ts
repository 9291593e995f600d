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

export async function loadMailauth(): Promise<typeof import('mailauth')> {
  patchGetPrivateKey();
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
