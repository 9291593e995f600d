/**
 * PKI.js needs a WebCrypto engine; Node's own is the one we trust, so it is set once here and
 * every S/MIME file imports `pkijs` through this module.
 */
import { webcrypto } from 'node:crypto';
import * as pkijs from 'pkijs';

pkijs.setEngine('node', new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto }));

export { pkijs };
export const subtle = webcrypto.subtle;
