import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/index.ts';
import { buildPickupNotice } from './links.ts';

const notice = (config: object) => simpleParser(buildPickupNotice(parseConfig({ hostname: 'gw.clinic.test', web: { publicUrl: 'https://portal.clinic.test' }, ...config }), {
  id: 'AbCdEfGhIjKlMnOpQrStUv', messagePassword: 'AB12-CD34', recipient: 'bob@dest.test', sender: 'alice@clinic.test', expiresInDays: 30, now: Date.UTC(2026, 11, 2, 6, 10),
}));

describe('buildPickupNotice follows branding.*', () => {
  it('comes from notices@<hostname> under Sealgate, in English, by default', async () => {
    const parsed = await notice({});
    expect(parsed.from?.value).toEqual([{ address: 'notices@gw.clinic.test', name: 'Sealgate' }]);
    expect(parsed.replyTo).toBeUndefined();
    expect(parsed.subject).toBe('You have a secure message');
    expect(parsed.text).toContain('https://portal.clinic.test/m/AbCdEfGhIjKlMnOpQrStUv#AB12-CD34');
  });

  it('takes the address, name, language, subject and intro from branding', async () => {
    const parsed = await notice({ branding: { noticeFrom: 'secure@clinic.test', organisation: 'Praxis Dr. Muster', locale: 'de', noticeIntro: '{organisation} hat Befunde für Sie.' } });
    expect(parsed.from?.value).toEqual([{ address: 'secure@clinic.test', name: 'Praxis Dr. Muster' }]);
    expect(parsed.subject).toBe('Sie haben eine sichere Nachricht');
    expect(parsed.text).toMatch(/^Praxis Dr\. Muster hat Befunde für Sie\.$/m);
    expect((await notice({ branding: { locale: 'de', noticeSubject: 'Neue Nachricht' } })).subject).toBe('Neue Nachricht');
    // The older key still counts once changed from its default.
    expect((await notice({ branding: { locale: 'de' }, pickup: { noticeSubject: 'Post für Sie' } })).subject).toBe('Post für Sie');
  });

  it('refuses a notice address that is not a plain address', () => {
    expect(() => parseConfig({ branding: { noticeFrom: 'Clinic <secure@clinic.test>' } })).toThrow(/plain address/);
    expect(() => parseConfig({ branding: { logoFile: '/etc/logo.svg' } })).toThrow(/\.png or \.jpg/);
    expect(() => parseConfig({ branding: { contact: 'line one\nBcc: x@y.test' } })).toThrow(/one line/);
  });
});
