/**
 * One interface over OpenPGP and S/MIME (docs/architecture.md §3, layer 2). A protector turns a
 * whole RFC 5322 message into its signed and/or encrypted form and back; it does no I/O of its
 * own (keys come from the key store, the clock from the caller), so both kinds are tested alike.
 */

export type E2eKind = 'openpgp' | 'smime';

/** A correspondent's public key (OpenPGP certificate, armored or binary) or X.509 certificate (PEM or DER). */
export interface PublicKeyMaterial {
  kind: E2eKind;
  /** The address the key is used for. */
  address: string;
  data: Uint8Array;
}

/** One of our users' private keys, already decrypted from the vault for this operation. */
export interface PrivateKeyMaterial {
  kind: E2eKind;
  address: string;
  /** OpenPGP: the transferable secret key. S/MIME: the PKCS#8 private key. */
  key: Uint8Array;
  /** S/MIME: the user's certificate (DER or PEM) and any intermediates; OpenPGP: unused. */
  certificates?: Uint8Array[];
}

export interface ProtectOptions {
  sign: boolean;
  encrypt: boolean;
  /** Every recipient's key, plus the sender's own so the sent copy stays readable to them. */
  recipients: PublicKeyMaterial[];
  signer?: PrivateKeyMaterial;
  /** The signing time written into the signature (replay detection compares it). */
  now: Date;
}

export type SignatureVerdict =
  /** `certificate`: S/MIME, the signer's certificate (DER) as the message carried it, for harvesting. */
  | { state: 'valid'; signer: string; keyId: string; signedAt: Date | null; certificate?: Uint8Array }
  | { state: 'invalid'; signer: string | null; keyId: string | null; reason: string }
  | { state: 'unknown-key'; keyId: string | null; signedAt: Date | null };

export interface UnprotectResult {
  /** The message as the mailbox server should receive it: decrypted, headers restored (RFC 9788). */
  message: Uint8Array;
  decrypted: boolean;
  signature: SignatureVerdict | null;
  /** S/MIME CBC without a valid signature: an attacker could have changed it (EFAIL). */
  malleable: boolean;
}

export interface UnprotectOptions {
  decryptionKeys: PrivateKeyMaterial[];
  verificationKeys: PublicKeyMaterial[];
  /** S/MIME trust anchors (PEM or DER). */
  trustAnchors?: Uint8Array[];
  now: Date;
}

export interface Protector {
  kind: E2eKind;
  protect(message: Uint8Array, options: ProtectOptions): Promise<Uint8Array>;
  /** Throws a `MailError` (module `e2e`) for what must be refused, such as OpenPGP without integrity protection. */
  unprotect(message: Uint8Array, options: UnprotectOptions): Promise<UnprotectResult>;
}
