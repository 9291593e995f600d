import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { recommendation, updatePeerState, type AutocryptPeerState } from './autocrypt-state.ts';
import { parseKeys } from './parse.ts';
import { chooseBest, supersedes, unusableReason, type CandidateKey, type KeySource } from './precedence.ts';

const DAY = 86_400_000;
const T = Date.UTC(2026, 5, 1);
const k = (source: KeySource, extra: Partial<CandidateKey> = {}): CandidateKey & { id: string } => ({ id: `${source}${extra.keyCreatedAt ?? ''}`, source, state: 'active', keyCreatedAt: T - DAY, expiresAt: null, trustedUntil: null, lastSeen: T, canEncrypt: true, ...extra });

describe('source precedence', () => {
  it.each([
    [[k('harvested'), k('autocrypt'), k('keyserver'), k('wkd'), k('imported')], 'imported'],
    [[k('harvested'), k('autocrypt'), k('keyserver'), k('wkd')], 'wkd'],
    [[k('harvested'), k('autocrypt'), k('keyserver')], 'keyserver'],
    [[k('harvested'), k('autocrypt')], 'autocrypt'],
    [[k('harvested'), k('imported', { expiresAt: T - 1 })], 'harvested'],
    [[k('harvested'), k('wkd', { state: 'revoked' })], 'harvested'],
    [[k('harvested'), k('wkd', { trustedUntil: T })], 'harvested'],
    [[k('harvested'), k('wkd', { canEncrypt: false })], 'harvested'],
    [[k('harvested', { keyCreatedAt: T - 9 * DAY }), k('harvested', { keyCreatedAt: T - 2 * DAY })], `harvested${T - 2 * DAY}`],
    [[k('wkd', { state: 'superseded' })], undefined],
  ])('%#: picks %s', (keys, expected) => {
    expect(chooseBest(keys, T)?.id).toBe(expected);
  });

  it('says why a key is not used', () => {
    expect(unusableReason(k('wkd', { expiresAt: T }), T)).toBe('expired');
    expect(unusableReason(k('wkd'), T)).toBeNull();
  });

  it.each([
    ['keyserver', T, T, T - DAY, T - DAY, true],
    ['keyserver', T - 2 * DAY, T, T - DAY, T - DAY, false],
    ['harvested', T, T - 2 * DAY, T - DAY, T - DAY, false],
    ['harvested', T, T, T - DAY, T - DAY, true],
    ['imported', T - 9 * DAY, T, T, T, true],
  ] as const)('%s created %d seen %d over one created %d seen %d: %s', (source, created, seen, heldCreated, heldSeen, expected) => {
    expect(supersedes({ source, keyCreatedAt: created, seenAt: seen }, { source, keyCreatedAt: heldCreated, lastSeen: heldSeen })).toBe(expected);
  });

  it('never replaces across sources', () => {
    expect(supersedes({ source: 'wkd', keyCreatedAt: T, seenAt: T }, { source: 'harvested', keyCreatedAt: 0, lastSeen: 0 })).toBe(false);
  });
});

describe('Autocrypt peer state (§2.3, §2.4)', () => {
  const key = new Uint8Array([1, 2, 3]);
  const other = new Uint8Array([4, 5, 6]);
  it('a future Date counts as now; no header on first sight leaves no key', () => {
    const s = updatePeerState(null, { from: 'a@x.test', date: T + DAY, header: { keydata: key, preferEncrypt: 'mutual' } }, T)!;
    expect(s).toMatchObject({ lastSeen: T, autocryptTimestamp: T, preferEncrypt: 'mutual' });
    expect(recommendation(s)).toBe('encrypt');
    expect(recommendation(updatePeerState(null, { from: 'a@x.test', date: T, header: null }, T))).toBe('disable');
  });
  it('an older message changes nothing; a newer one without a header only moves last_seen', () => {
    const s: AutocryptPeerState = { address: 'a@x.test', lastSeen: T, autocryptTimestamp: T, publicKey: key, preferEncrypt: 'mutual' };
    expect(updatePeerState(s, { from: 'a@x.test', date: T - DAY, header: { keydata: other, preferEncrypt: 'nopreference' } }, T + DAY)).toBe(s);
    const later = updatePeerState(s, { from: 'a@x.test', date: T + 36 * DAY, header: null }, T + 40 * DAY)!;
    expect(later).toMatchObject({ lastSeen: T + 36 * DAY, autocryptTimestamp: T, publicKey: key });
    expect(recommendation(later)).toBe('discourage');
    const renewed = updatePeerState(later, { from: 'a@x.test', date: T + 37 * DAY, header: { keydata: other, preferEncrypt: 'nopreference' } }, T + 40 * DAY)!;
    expect(renewed).toMatchObject({ autocryptTimestamp: T + 37 * DAY, publicKey: other });
    expect(recommendation(renewed)).toBe('available');
  });
});

describe('X.509 parsing', () => {
  it('reads SAN e-mail, subject E=, validity and key usage from a certificate openssl made', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-x509-'));
    try {
      const crt = path.join(dir, 'c.crt');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=Carol/emailAddress=Carol.Old@corp.test', '-addext', 'subjectAltName=email:carol@corp.test', '-addext', 'keyUsage=critical,digitalSignature', '-keyout', path.join(dir, 'c.key'), '-out', crt], { stdio: 'ignore' });
      const [parsed] = await parseKeys(readFileSync(crt));
      expect(parsed).toMatchObject({ kind: 'smime', addresses: ['carol@corp.test', 'carol.old@corp.test'], keyUsage: ['digitalSignature'], canSign: true, canEncrypt: false });
      expect(parsed.fingerprint).toMatch(/^[0-9a-f]{64}$/);
      const [later] = await parseKeys(readFileSync(crt), new Date(Date.now() + 3 * DAY));
      expect(later.canSign).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
