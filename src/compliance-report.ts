import type { Config } from './config/index.ts';
import type { ComplianceReport, Safeguard } from './kernel/index.ts';

/*
 * The HIPAA Security Rule report (issue 13 "Compliance report"): each technical safeguard of
 * 45 CFR 164.312, plus backup (164.308(a)(7)) and disposal (164.310(d)(2)), with how this
 * installation meets it, read from its live settings and records (compliance-facts.ts). Pure:
 * the same facts give the same report, so the wording and each warning are table-tested. A
 * warning names what to change; it is for the practice's risk analysis, not a certification.
 */

export interface ComplianceFacts {
  now: number;
  users: { username: string; roles: string[]; secondFactor: boolean; locked: boolean; disabled: boolean }[];
  breakGlass: { active: { createdAt: number } | null; lastUsed: { at: number; ip: string | null } | null };
  pins: { domain: string; minLevel: string }[];
  audit: { ok: boolean; events: number; checkpoints: number; unsigned: number; broken: { seq: number; sentence: string } | null };
  lastBackupAt: number | null;
  lastPurgeAt: number | null;
  userKeys: number;
}

const DAY = 86_400_000;
/** HIPAA's documentation period (164.316(b)(2)): six years. */
const SIX_YEARS_DAYS = 2190;
/** A logged-in screen left alone longer than this is an exposure most risk analyses flag. */
const LONG_IDLE_MS = 30 * 60_000;
const BACKUP_STALE_DAYS = 7;

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function safeguard(id: string, citation: string, title: string, findings: string[], warnings: string[]): Safeguard {
  return { id, citation, title, status: warnings.length ? 'warning' : 'met', findings, warnings };
}

function idleByRole(config: Config): string {
  const base = config.web.idleTimeoutMs;
  const byRole = config.web.idleTimeoutByRole;
  const roles = ['sender', 'admin', 'auditor'] as const;
  return roles.map((r) => `${minutes(Math.min(base, byRole[r] ?? Infinity))} for ${r}s`).join(', ');
}

export function complianceReport(config: Config, facts: ComplianceFacts): ComplianceReport {
  const active = facts.users.filter((u) => !u.disabled);
  const count = (role: string) => active.filter((u) => u.roles.includes(role)).length;
  const safeguards: Safeguard[] = [];

  {
    const warnings = active.length === 0 ? ['no user accounts yet: add one per person with `sealgate user add`'] : [];
    safeguards.push(safeguard('unique-user-identification', '164.312(a)(2)(i)', 'Unique user identification', [
      `${plural(active.length, 'active account')}, one per person (${plural(count('admin'), 'admin')}, ${plural(count('sender'), 'sender')}, ${plural(count('auditor'), 'auditor')}); no shared or anonymous logins exist`,
      'every login, message and admin change in the audit log names the account; mail clients use their own app passwords',
    ], warnings));
  }
  {
    const { active: ready, lastUsed } = facts.breakGlass;
    const findings = [ready ? `a sealed emergency access credential is ready (made ${day(ready.createdAt)}); it opens the admin console once, audited and mailed to every admin` : 'no emergency access credential is ready'];
    if (lastUsed) findings.push(`last used ${day(lastUsed.at)} from ${lastUsed.ip ?? 'an unknown address'}`);
    const admins = active.filter((u) => u.roles.includes('admin'));
    const warnings = ready ? [] : ['make one with `sealgate break-glass rotate` and seal it'];
    if (admins.length > 0 && admins.every((u) => u.locked)) warnings.push('every admin account is locked');
    safeguards.push(safeguard('emergency-access', '164.312(a)(2)(ii)', 'Emergency access procedure', findings, warnings));
  }
  {
    const longest = Math.max(config.web.idleTimeoutMs, ...Object.values(config.web.idleTimeoutByRole).filter((v): v is number => v !== undefined));
    safeguards.push(safeguard('automatic-logoff', '164.312(a)(2)(iii)', 'Automatic logoff', [
      `console idle log-off: ${idleByRole(config)}; every session ends ${Math.round(config.web.consoleSessionLifetimeMs / 3_600_000)} h after sign-in`,
      `SMTP sessions close after ${minutes(config.limits.idleTimeoutMs)} without progress`,
    ], longest > LONG_IDLE_MS ? [`an idle log-off of ${minutes(longest)} is long: lower web.idleTimeoutMs or web.idleTimeoutByRole`] : []));
  }
  safeguards.push(safeguard('encryption-decryption', '164.312(a)(2)(iv)', 'Encryption and decryption', [
    'queued messages are stored under their own AES-256-GCM key, wrapped by the master key and destroyed when the message is done',
    'Secure Message Pickup copies are sealed per recipient; retraction and expiry destroy the server share',
    `${plural(facts.userKeys, 'OpenPGP key or S/MIME certificate', 'OpenPGP keys and S/MIME certificates')} of users held, private keys sealed by the master key`,
  ], []));
  {
    const a = facts.audit;
    const findings = [`${plural(a.events, 'audit event')} in one hash chain, ${plural(a.checkpoints, 'signed checkpoint')} (${a.unsigned} newer events not yet signed); kept ${config.retention.auditDays} days`];
    const warnings: string[] = [];
    if (a.ok) findings.push('the chain verifies');
    else warnings.push(`the audit chain is broken at event #${a.broken?.seq}: ${a.broken?.sentence ?? 'see sealgate audit verify'}`);
    if (config.retention.auditDays < SIX_YEARS_DAYS) warnings.push(`audit events are kept ${config.retention.auditDays} days, less than the six years HIPAA keeps documentation: raise retention.auditDays`);
    safeguards.push(safeguard('audit-controls', '164.312(b)', 'Audit controls', findings, warnings));
  }
  safeguards.push(safeguard('integrity', '164.312(c)(1)', 'Integrity', [
    'every stored body is authenticated (AES-GCM): a changed byte is found, never delivered (`sealgate queue verify`)',
    'audit events are hash-chained and signed: an edited, removed or reordered event is named by `sealgate audit verify`',
  ], facts.audit.ok ? [] : ['the audit chain does not verify (see Audit controls)']));
  {
    const required = config.login.totpRequiredFor;
    const admins = active.filter((u) => u.roles.includes('admin'));
    const withoutFactor = admins.filter((u) => !u.secondFactor).length;
    const warnings: string[] = [];
    if (!required.includes('admin') && withoutFactor > 0) warnings.push(`${plural(withoutFactor, 'admin')} without a second factor and login.totpRequiredFor does not require one for admins`);
    safeguards.push(safeguard('person-authentication', '164.312(d)', 'Person or entity authentication', [
      `passwords: Argon2id, at least ${config.login.passwordMinLength} characters, breached passwords refused (NIST SP 800-63B)`,
      required.length ? `a second factor (TOTP) is required for: ${required.join(', ')}` : 'a second factor (TOTP) is optional for every role',
      `${active.filter((u) => u.secondFactor).length} of ${active.length} accounts have a second factor; failed logins lock an account after ${config.login.accountMaxFailures} tries for the window, and after ${config.login.accountLockAfter} in a row until an admin unlocks it`,
    ], warnings));
  }
  {
    const policies = Object.values(config.delivery.tlsPolicies);
    const stricter = policies.filter((p) => p !== 'opportunistic').length;
    const byLevel = new Map<string, number>();
    for (const pin of facts.pins) byLevel.set(pin.minLevel, (byLevel.get(pin.minLevel) ?? 0) + 1);
    const pinText = facts.pins.length ? [...byLevel].map(([level, n]) => `${plural(n, 'domain')} pinned to ${level}`).join(', ') : 'no domain pinned';
    const pickupStands = config.pickup.whenNoTls && config.web.enabled;
    const findings = [
      `outbound: default ${config.delivery.defaultTlsPolicy}, ${plural(stricter, 'domain')} with a stricter policy; ${pinText}; DANE and MTA-STS honoured`,
      pickupStands ? 'a message no MX takes over TLS goes to Secure Message Pickup (HTTPS), never in the clear' : 'a message no MX takes over TLS is not held for pickup',
      'submission: AUTH only after TLS; the portal and consoles: HTTPS only',
    ];
    const warnings = config.delivery.defaultTlsPolicy === 'opportunistic' && !pickupStands
      ? ['default opportunistic TLS without the pickup fallback: mail can leave in the clear — set pickup.whenNoTls true (with the portal) or delivery.defaultTlsPolicy required']
      : [];
    safeguards.push(safeguard('transmission-security', '164.312(e)(1)', 'Transmission security', findings, warnings));
  }
  {
    const stale = facts.lastBackupAt === null || facts.now - facts.lastBackupAt > BACKUP_STALE_DAYS * DAY;
    safeguards.push(safeguard('backup', '164.308(a)(7)(ii)(A)', 'Data backup plan', [
      facts.lastBackupAt === null ? 'no backup made with `sealgate backup create` is on record' : `last backup ${day(facts.lastBackupAt)} (encrypted, integrity-checked archive)`,
      'pickup shares stay out of backups by design: a message retracted after a backup stays unreadable',
    ], stale ? [`no backup in the last ${BACKUP_STALE_DAYS} days: schedule \`sealgate backup create\``] : []));
  }
  {
    const r = config.retention;
    const findings = [
      `finished messages ${r.finishedMessageDays} days, receipts ${r.receiptDays}, withdrawn pickups ${r.pickupDays}, TLS-RPT counts ${r.tlsReportDays}; deleted rows are overwritten and data keys destroyed (crypto-shredding)`,
      facts.lastPurgeAt === null ? 'the purge has not run yet' : `the purge last ran ${day(facts.lastPurgeAt)}, every ${minutes(r.intervalMs)}`,
    ];
    const late = facts.lastPurgeAt !== null && facts.now - facts.lastPurgeAt > Math.max(2 * r.intervalMs, DAY);
    safeguards.push(safeguard('disposal', '164.310(d)(2)(i)', 'Disposal', findings, late ? ['the purge has not run for more than a day: is a gateway running?'] : []));
  }
  return { generatedAt: facts.now, hostname: config.hostname, safeguards, warnings: safeguards.reduce((n, s) => n + s.warnings.length, 0) };
}
