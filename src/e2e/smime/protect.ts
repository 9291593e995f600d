/**
 * S/MIME 4.0 (RFC 8551) outbound: the message's headers copied into the cryptographic payload
 * (RFC 9788 header protection, `hp="cipher"` with an `HP-Outer` copy of each field the outside
 * shows, or `hp="clear"`), signed as multipart/signed
 * (detached, SHA-256), then enveloped (AES-256-GCM AuthEnvelopedData when every recipient can
 * read it, AES-256-CBC EnvelopedData otherwise), the outer Subject replaced by `...`.
 */
import { randomBytes } from 'node:crypto';
import type * as x509 from '@peculiar/x509';
import { x509Library } from '../libraries.ts';
import { MailError } from '../../kernel/index.ts';
import type { HeaderField } from '../../mail/index.ts';
import type { PrivateKeyMaterial, ProtectOptions, PublicKeyMaterial } from '../types.ts';
import { checkCertificate } from './certificates.ts';
import { certificateDer, derBlocks, parseCertificates } from './der.ts';
import { envelope } from './enveloped.ts';
import type { ContentEncryption } from './enveloped.ts';
import { base64Lines, field, isContentField, joinEntity, splitEntity } from './mime.ts';
import type { SmimeProtectorOptions } from './options.ts';
import { importSigningKey, signDetached } from './signed-data.ts';
import type { pkijs } from './engine.ts';

const OID_SMIME_CAPABILITIES = '1.2.840.113549.1.9.15';
const AES256_GCM_OID_DER = Buffer.from('060960864801650304012e', 'hex'); // 2.16.840.1.101.3.4.1.46
/** Trace and transport fields stay outside the payload: they describe the path, not the message. */
const UNPROTECTED = new Set(['received', 'return-path', 'dkim-signature', 'arc-seal', 'arc-message-signature', 'arc-authentication-results', 'authentication-results']);

/** What an encrypted message's outside shows instead of its Subject (the only field we obscure). */
const OBSCURED_SUBJECT = '...';

function isObscured(f: HeaderField): boolean {
  return f.name.toLowerCase() === 'subject';
}

/** The field's value as written, folds kept (they are FWS in an HP-Outer value too). */
function fieldBody(f: HeaderField): string {
  return f.raw.slice(f.raw.indexOf(':') + 1).replace(/^[ \t]+/, '');
}

function refuse(sentence: string): MailError {
  return new MailError(554, '5.7.1', sentence, 'e2e');
}

/** The certificate's own SMIMECapabilities extension (RFC 4262) lists AES-256-GCM; undefined without one. */
function certificateAnnouncesGcm(certificate: pkijs.Certificate): boolean | undefined {
  const x509 = x509Library();
  const extension = new x509.X509Certificate(certificateDer(certificate)).extensions.find((e) => e.type === OID_SMIME_CAPABILITIES);
  if (!extension) return undefined;
  // The DER of the OID itself (06 09 ...) inside the capability list.
  return Buffer.from(extension.value).includes(AES256_GCM_OID_DER);
}

async function recipientCertificates(recipients: PublicKeyMaterial[], options: SmimeProtectorOptions, now: Date) {
  const anchors = options.recipientTrustAnchors ? parseCertificates(options.recipientTrustAnchors) : undefined;
  const chosen: pkijs.Certificate[] = [];
  let gcm = true;
  for (const recipient of recipients) {
    if (recipient.kind !== 'smime') continue;
    const [certificate, ...intermediates] = parseCertificates([recipient.data]);
    if (!certificate) throw refuse(`The S/MIME certificate for ${recipient.address} could not be read.`);
    const check = await checkCertificate({ certificate, use: 'encrypt', address: recipient.address, at: now, trustAnchors: anchors, intermediates, revoked: options.revoked });
    if (!check.ok) throw refuse(`The S/MIME certificate for ${recipient.address} cannot be used for encryption: ${check.reason}.`);
    const known = options.recipientSupportsGcm?.(recipient) ?? certificateAnnouncesGcm(certificate);
    if (known !== true) gcm = false;
    chosen.push(certificate);
  }
  if (!chosen.length) throw refuse('There is no S/MIME certificate to encrypt the message to.');
  return { certificates: chosen, encryption: (gcm ? 'aes-256-gcm' : 'aes-256-cbc') as ContentEncryption };
}

function boundary(): string {
  return `----=_smime_${randomBytes(12).toString('hex')}`;
}

async function signPayload(payload: Buffer, signer: PrivateKeyMaterial, options: SmimeProtectorOptions, now: Date): Promise<Buffer> {
  const [certificate, ...chain] = parseCertificates(signer.certificates ?? []);
  if (!certificate) throw refuse(`There is no S/MIME certificate for ${signer.address} to sign with.`);
  const check = await checkCertificate({ certificate, use: 'sign', address: signer.address, at: now, revoked: options.revoked });
  if (!check.ok) throw refuse(`The S/MIME certificate of ${signer.address} cannot sign: ${check.reason}.`);
  const [keyDer] = derBlocks(signer.key);
  const key = await importSigningKey(keyDer, certificate);
  const signature = await signDetached({ content: payload, key, certificate, chain, at: now });
  const b = boundary();
  const body = Buffer.concat([
    Buffer.from(`This is a cryptographically signed message in MIME format.\r\n\r\n--${b}\r\n`, 'latin1'),
    payload,
    Buffer.from(
      `\r\n--${b}\r\nContent-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\n` +
        `Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n${base64Lines(signature)}\r\n--${b}--\r\n`,
      'latin1',
    ),
  ]);
  return joinEntity([`Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256;\r\n boundary="${b}"`], body);
}

export async function protectSmime(message: Uint8Array, options: ProtectOptions, settings: SmimeProtectorOptions): Promise<Uint8Array> {
  if (!options.sign && !options.encrypt) return message;
  if (options.sign && !options.signer) throw refuse('Signing was asked for but there is no S/MIME key for the sender.');
  const original = splitEntity(message);
  const messageFields = original.fields.filter((f) => !isContentField(f.name));
  const contentFields = original.fields.filter((f) => isContentField(f.name) && f.name.toLowerCase() !== 'mime-version');
  const hp = options.encrypt ? 'cipher' : 'clear';
  const contentType = field(contentFields, 'content-type');
  const protectedFields = messageFields.filter((f) => !UNPROTECTED.has(f.name.toLowerCase()));
  const payloadFields = [
    ...protectedFields.map((f) => f.raw),
    // RFC 9788 §2.2: an encrypted payload MUST copy every field the outside shows, as shown there.
    ...(options.encrypt ? protectedFields.map((f) => `HP-Outer: ${f.name}: ${isObscured(f) ? OBSCURED_SUBJECT : fieldBody(f)}`) : []),
    contentType ? `${contentType.raw};\r\n hp="${hp}"` : `Content-Type: text/plain; charset=us-ascii; hp="${hp}"`,
    ...contentFields.filter((f) => f !== contentType).map((f) => f.raw),
  ];
  let payload = joinEntity(payloadFields, original.body);
  if (options.sign && options.signer) payload = await signPayload(payload, options.signer, settings, options.now);
  if (!options.encrypt) {
    const signed = splitEntity(payload);
    return joinEntity([...messageFields.map((f) => f.raw), 'MIME-Version: 1.0', ...signed.fields.map((f) => f.raw)], signed.body);
  }
  const { certificates, encryption } = await recipientCertificates(options.recipients, settings, options.now);
  const enveloped = await envelope({ content: payload, recipients: certificates, encryption, rsaKeyTransport: settings.rsaKeyTransport ?? 'pkcs1' });
  const smimeType = encryption === 'aes-256-gcm' ? 'authEnveloped-data' : 'enveloped-data';
  const outerFields = messageFields.map((f) => (isObscured(f) ? `Subject: ${OBSCURED_SUBJECT}` : f.raw));
  if (!field(messageFields, 'subject')) outerFields.push(`Subject: ${OBSCURED_SUBJECT}`);
  return joinEntity(
    [
      ...outerFields,
      'MIME-Version: 1.0',
      `Content-Type: application/pkcs7-mime; smime-type=${smimeType}; name="smime.p7m"`,
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename="smime.p7m"',
    ],
    Buffer.from(`${base64Lines(enveloped)}\r\n`, 'latin1'),
  );
}
