import type { PublicKeyMaterial } from '../types.ts';
import type { RsaKeyTransport } from './enveloped.ts';

/** What the S/MIME protector is configured with (the key store and config supply these). */
export interface SmimeProtectorOptions {
  /**
   * Whether a recipient can read AuthEnvelopedData with AES-256-GCM: true or false when known
   * (the SMIMECapabilities of its last signed mail, kept by the key store), undefined when not.
   * Unknown falls back to the certificate's SMIMECapabilities extension (RFC 4262), then CBC.
   */
  recipientSupportsGcm?: (recipient: PublicKeyMaterial) => boolean | undefined;
  /**
   * RSA key transport for recipients. RFC 8551 §2.3 requires readers to support PKCS#1 v1.5 and
   * prefers OAEP, but gpgsm before GnuPG 2.4 cannot read OAEP, so PKCS#1 v1.5 is the default.
   */
  rsaKeyTransport?: RsaKeyTransport;
  /** Anchors recipients' certificates must chain to before we encrypt to them; unchecked when omitted (the key store checked them). */
  recipientTrustAnchors?: Uint8Array[];
  /** SHA-256 fingerprints (hex) of certificates known to be revoked: never used, signatures by them invalid. */
  revoked?: ReadonlySet<string>;
}
