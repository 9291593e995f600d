import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { expect, it } from 'vitest';
import { silentLogger } from '../../test/helpers/silent-logger.ts';
import { loadDkimSign, signingKey } from './mailauth-loader.ts';
import { dkimSignatures } from './sign.ts';

it('hands mailauth parsed keys (a PEM parse cost more than the RSA signature), and they sign as the PEM does', async () => {
  const { dkimSign } = await loadDkimSign();
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const key = signingKey(pem);
  expect(key).toBeInstanceOf(KeyObject);
  expect(signingKey(pem), 'parsed once').toBe(key);
  const message = Buffer.from('From: a@example.test\r\nTo: b@example.test\r\nSubject: hi\r\nDate: Thu, 03 Dec 2026 12:00:00 +0000\r\n\r\nbody\r\n');
  const now = new Date('2026-12-03T12:00:00Z');
  const ours = await dkimSignatures(message, [{ domain: 'example.test', selector: 's1', algorithm: 'rsa', privateKeyPem: pem, publicKey: '', createdAt: 0, retiredAt: null }], now, silentLogger);
  expect(ours).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example.test;/);
  // The library's own PEM path gives the same bytes (RSA PKCS#1 v1.5 is deterministic).
  const byPem = await dkimSign(message, {
    signingDomain: 'example.test', selector: 's1', privateKey: pem, canonicalization: 'relaxed/relaxed', signTime: now,
    headerList: ['from', 'from', 'to', 'cc', 'subject', 'subject', 'date', 'message-id', 'reply-to', 'mime-version', 'content-type', 'content-transfer-encoding', 'in-reply-to', 'references', 'auto-submitted'],
    signatureData: [{ signingDomain: 'example.test', selector: 's1', privateKey: pem, algorithm: 'rsa-sha256', canonicalization: 'relaxed/relaxed' }],
  });
  expect(ours).toBe(byPem.signatures);
});
