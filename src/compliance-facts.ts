import { complianceReport, type ComplianceFacts } from './compliance-report.ts';
import type { ComplianceReport } from './kernel/index.ts';
import { LinkPins } from './linksec/index.ts';
import type { Runtime } from './runtime.ts';
import { scheduledJobs } from './store/index.ts';

/** Reads what the compliance report states from the running installation's records. */
export async function gatherComplianceFacts(runtime: Pick<Runtime, 'store' | 'users' | 'audit' | 'clock'>): Promise<ComplianceFacts> {
  const { store, users, audit } = runtime;
  const listed = await users.list();
  const accounts = await Promise.all(listed.map(async (u) => {
    const [roles, lock, secondFactor] = await Promise.all([users.rolesOf(u.username), users.lockState(u.username), users.secondFactors?.isEnabled(u.username) ?? false]);
    return { username: u.username, roles, secondFactor, locked: lock.adminLock, disabled: u.disabled };
  }));
  const [breakGlass, pins, verify, backups, jobs, keys] = await Promise.all([
    users.breakGlass.status(),
    new LinkPins(store).list(),
    audit.verify(),
    audit.list({ action: 'backup.create', limit: 100_000 }),
    scheduledJobs(store),
    store.db.selectFrom('e2e_user_keys').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
  ]);
  const purge = jobs.find((j) => j.name === 'retention-purge');
  return {
    now: runtime.clock.now(),
    users: accounts,
    breakGlass,
    pins: pins.map((p) => ({ domain: p.domain, minLevel: p.minLevel })),
    audit: { ok: verify.ok, events: verify.events, checkpoints: verify.checkpoints, unsigned: verify.unsigned, broken: verify.broken },
    lastBackupAt: backups.at(-1)?.at ?? null,
    lastPurgeAt: purge && purge.lastStartedAt ? purge.lastStartedAt : null,
    userKeys: Number(keys?.n ?? 0),
  };
}

export async function buildComplianceReport(runtime: Runtime): Promise<ComplianceReport> {
  return complianceReport(runtime.config, await gatherComplianceFacts(runtime));
}
