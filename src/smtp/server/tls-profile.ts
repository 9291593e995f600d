import { constants } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';

/**
 * Mozilla's "intermediate" server profile (TLS 1.2 and 1.3; for 1.2 only ECDHE key exchange
 * with AEAD ciphers, so no CBC suite with an ECDSA or an RSA certificate). TLS 1.3 suites are
 * all AEAD and stay at OpenSSL's defaults. One profile for every listener: SMTP and the portal.
 */
export const INTERMEDIATE_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export function intermediateTlsOptions(key: string | Buffer, cert: string | Buffer): SecureContextOptions & { honorCipherOrder: boolean } {
  return {
    key,
    cert,
    minVersion: 'TLSv1.2',
    ciphers: INTERMEDIATE_CIPHERS,
    ecdhCurve: 'X25519:prime256v1:secp384r1',
    honorCipherOrder: false,
    // Node's TLS 1.2 server accepts client-initiated renegotiation (3 per 10 min): a handshake
    // the client makes the server compute again and again. Nothing here needs it (Mozilla and
    // testssl.sh flag it), so OpenSSL refuses it; TLS 1.3 has no renegotiation at all.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
  };
}
