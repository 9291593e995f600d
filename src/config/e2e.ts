import { z } from 'zod';

/** `e2e` of the config: where correspondents' keys are found, and when mail is encrypted end to end. */
export const e2eSchema = z
  .strictObject({
    wkd: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Look up correspondents\' OpenPGP keys in their domain\'s Web Key Directory (advanced method, then direct).'),
        port: z.number().int().min(1).max(65535).default(443).describe('HTTPS port of WKD hosts; 443 except in tests.'),
      })
      .prefault({})
      .describe('Web Key Directory (draft-koch-openpgp-webkey-service), over HTTPS with the system CAs plus `delivery.extraCaFiles`.'),
    keyserver: z
      .strictObject({
        url: z.string().url().optional().describe('Base URL of a keyserver (e.g. `https://keys.openpgp.org`); unset: no keyserver is asked.'),
        protocol: z.enum(['auto', 'vks', 'hkp']).default('auto').describe('`vks`: `/vks/v1/by-email/…` (verified addresses); `hkp`: `/pks/lookup?op=get`; `auto`: VKS, then HKP.'),
      })
      .prefault({})
      .describe('Keyserver lookup of correspondents\' OpenPGP keys.'),
    discovery: z
      .strictObject({
        cacheMinutes: z.number().int().min(1).default(24 * 60).describe('How long a found key (WKD or keyserver answer) is used before the source is asked again.'),
        negativeCacheMinutes: z.number().int().min(1).default(60).describe('How long "no key published" is remembered before asking again.'),
        timeoutMs: z.number().int().min(1).default(10_000).describe('Longest wait for one discovery HTTPS answer.'),
        trustDays: z.number().int().min(1).default(7).describe('A key found by WKD or a keyserver is used for at most this many days after it was last served.'),
        atDelivery: z
          .boolean()
          .default(true)
          .describe('At delivery, look up the OpenPGP key of a recipient the key store has no usable key of (WKD, then the keyserver; answers cached as above), when the message may be encrypted: a `Sealgate-Encrypt` request, a rule for the recipient domain, or a sender in `e2e.encrypt.whenKeyKnown`.'),
      })
      .prefault({})
      .describe('Key discovery: caching and timeouts.'),
    encrypt: z
      .strictObject({
        outbound: z.boolean().default(true).describe('Carry out end-to-end routes on delivery: look up recipients\' keys in the key store and encrypt (and sign with the sender\'s own key when held). Off: no key is looked up, so no message is encrypted and `Sealgate-Encrypt` falls back to a verified link or pickup.'),
        whenKeyKnown: z
          .array(z.string().min(1))
          .default([])
          .describe('Senders (SMTP AUTH user names or sender addresses; `*`: every user) whose mail is encrypted end to end whenever a usable key of the recipient is known; without a key it goes as today.'),
        domains: z
          .record(z.string().min(1), z.enum(['pgp', 'smime', 'auto']).describe('The method for that recipient domain: `pgp`, `smime` or `auto` (OpenPGP, else S/MIME).'))
          .default({})
          .describe('Recipient domains whose mail from our users is always encrypted end to end with this method (`auto`: OpenPGP, else S/MIME); without a usable key it goes only over a verified link, else pickup. A sender\'s `Sealgate-Encrypt` header comes first.'),
      })
      .prefault({})
      .describe('When outbound mail is encrypted end to end, in this order: the sender\'s `Sealgate-Encrypt: pgp|smime|auto` header, the rule for the recipient\'s domain, then the sender\'s "encrypt whenever a key is known".'),
    inbound: z
      .strictObject({
        enabled: z.boolean().default(true).describe('On the inbound listener, decrypt mail for keys Sealgate holds, verify signatures and add the `Sealgate-E2E-Result` header before the message is stored; an OpenPGP message without integrity protection is refused at the end of DATA.'),
        replayDays: z.number().int().min(1).max(3650).default(30).describe('Days a signed inbound message (signer, Message-ID, signing time) is remembered, so that a copy of it is flagged `replay=yes`.'),
        maxBufferedMegabytes: z.number().int().min(1).default(256).describe('Encrypted or signed inbound messages are held in memory until the end of DATA; at most this much over all sessions at once in one listener process (`serve.workers`), past it a sender is told to try again later (452).'),
        harvest: z.boolean().default(true).describe('Learn correspondents\' keys from inbound mail: Autocrypt headers (Level 1 rules) and S/MIME certificates of validly signed mail for the From address.'),
      })
      .prefault({})
      .describe('End-to-end protection of inbound mail (the MX role).'),
    smime: z
      .strictObject({
        trustAnchorFiles: z.array(z.string()).default([]).describe('PEM files of the CA certificates an S/MIME signer\'s certificate must chain to; without any, only certificates already in the key store count as known.'),
      })
      .prefault({})
      .describe('S/MIME certificate checks.'),
  })
  .prefault({})
  .describe('End-to-end encryption (OpenPGP and S/MIME): where correspondents\' keys are found, and when mail is encrypted.');
