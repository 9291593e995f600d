import { describe, expect, it } from 'vitest';
import { complianceReport, type ComplianceFacts } from './compliance-report.ts';
import { parseConfig } from './config/index.ts';

const NOW = Date.parse('2026-12-02T12:00:00Z');
const DAY = 86_400_000;

function facts(overrides: Partial<ComplianceFacts> = {}): ComplianceFacts {
  return {
    now: NOW,
    users: [
      { username: 'boss@clinic.test', roles: ['admin', 'sender'], secondFactor: true, locked: false, disabled: false },
      { username: 'nurse@clinic.test', roles: ['sender'], secondFactor: false, locked: false, disabled: false },
    ],
    breakGlass: { active: { createdAt: NOW - DAY }, lastUsed: null },
    pins: [{ domain: 'lab.test', minLevel: 'tls-verified' }, { domain: 'xray.test', minLevel: 'tls-verified' }, { domain: 'bank.test', minLevel: 'dane' }],
    audit: { ok: true, events: 120, checkpoints: 3, unsigned: 4, broken: null },
    lastBackupAt: NOW - DAY,
    lastPurgeAt: NOW - 3_600_000,
    userKeys: 2,
    ...overrides,
  };
}

const byId = (report: ReturnType<typeof complianceReport>, id: string) => report.safeguards.find((s) => s.id === id)!;

describe('the HIPAA compliance report', () => {
  it('names each technical safeguard with its citation, and a well-run installation has no warning', () => {
    const config = parseConfig({ login: { totpRequiredFor: ['admin'] }, web: { idleTimeoutByRole: { admin: 600_000 } } });
    const report = complianceReport(config, facts());
    expect(report.safeguards.map((s) => s.citation)).toEqual(['164.312(a)(2)(i)', '164.312(a)(2)(ii)', '164.312(a)(2)(iii)', '164.312(a)(2)(iv)', '164.312(b)', '164.312(c)(1)', '164.312(d)', '164.312(e)(1)', '164.308(a)(7)(ii)(A)', '164.310(d)(2)(i)']);
    expect(report.warnings).toBe(0);
    expect(byId(report, 'automatic-logoff').findings[0]).toBe('console idle log-off: 15 min for senders, 10 min for admins, 15 min for auditors; every session ends 12 h after sign-in');
    expect(byId(report, 'transmission-security').findings[0]).toBe('outbound: default opportunistic, 0 domains with a stricter policy; 2 domains pinned to tls-verified, 1 domain pinned to dane; DANE and MTA-STS honoured');
    expect(byId(report, 'person-authentication').findings[1]).toBe('a second factor (TOTP) is required for: admin');
    expect(byId(report, 'unique-user-identification').findings[0]).toContain('2 active accounts, one per person (1 admin, 2 senders, 0 auditors)');
  });

  it('warns, naming what to change, for each gap', () => {
    const config = parseConfig({ pickup: { whenNoTls: false }, web: { idleTimeoutMs: 3_600_000 }, retention: { auditDays: 365 } });
    const report = complianceReport(config, facts({
      breakGlass: { active: null, lastUsed: { at: NOW - 2 * DAY, ip: '192.0.2.9' } },
      users: [{ username: 'boss@clinic.test', roles: ['admin'], secondFactor: false, locked: true, disabled: false }],
      audit: { ok: false, events: 9, checkpoints: 0, unsigned: 9, broken: { seq: 4, sentence: 'its hash does not match its contents' } },
      lastBackupAt: null,
      lastPurgeAt: NOW - 3 * DAY,
    }));
    expect(byId(report, 'emergency-access').warnings).toEqual(['make one with `sealgate break-glass rotate` and seal it', 'every admin account is locked']);
    expect(byId(report, 'emergency-access').findings[1]).toBe('last used 2026-11-30 from 192.0.2.9');
    expect(byId(report, 'automatic-logoff').warnings[0]).toMatch(/60 min is long/);
    expect(byId(report, 'audit-controls').warnings).toEqual([
      'the audit chain is broken at event #4: its hash does not match its contents',
      'audit events are kept 365 days, less than the six years HIPAA keeps documentation: raise retention.auditDays',
    ]);
    expect(byId(report, 'integrity').status).toBe('warning');
    expect(byId(report, 'person-authentication').warnings[0]).toBe('1 admin without a second factor and login.totpRequiredFor does not require one for admins');
    expect(byId(report, 'transmission-security').warnings[0]).toMatch(/mail can leave in the clear/);
    expect(byId(report, 'backup').warnings[0]).toMatch(/no backup in the last 7 days/);
    expect(byId(report, 'disposal').warnings[0]).toMatch(/has not run for more than a day/);
    expect(report.warnings).toBe(10);
    // Without the portal, "TLS or pickup" cannot stand in either.
    expect(byId(complianceReport(parseConfig({ web: { enabled: false } }), facts()), 'transmission-security').status).toBe('warning');
  });
});
