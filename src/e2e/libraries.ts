/**
 * The cryptographic libraries of end-to-end mail, loaded at their first use rather than with
 * this folder: every gateway process imports e2e/ (the key store, the inbound and outbound
 * steps), few ever see a key or an encrypted message, and OpenPGP.js with @peculiar/x509 and
 * its ASN.1 schemas hold tens of MB each in every process that loads them.
 */
import { createRequire } from 'node:module';
import type * as OpenPgp from 'openpgp';
import type * as X509 from '@peculiar/x509';

const require = createRequire(import.meta.url);

let openpgpLoading: Promise<typeof OpenPgp> | undefined;
/** OpenPGP.js, the same ES module instance `import 'openpgp'` gives (the CLI and the tests use it too). */
export function openpgpLibrary(): Promise<typeof OpenPgp> {
  return (openpgpLoading ??= import('openpgp'));
}

let x509Loaded: typeof X509 | undefined;
/**
 * @peculiar/x509, loaded synchronously (parsing a certificate is): it is CommonJS, so `require`
 * gives the module `import` would. Its dependency injection needs reflect-metadata first.
 */
export function x509Library(): typeof X509 {
  if (!x509Loaded) {
    require('reflect-metadata');
    x509Loaded = require('@peculiar/x509') as typeof X509;
  }
  return x509Loaded;
}
