/** `sealgate compliance [--json]`: the HIPAA technical safeguards as this installation meets them. */
import type { ComplianceReport } from '../kernel/index.ts';
import type { Command } from './command.ts';
import { CliError, EX } from './exit.ts';
import { out, outJson } from './output.ts';
import { requireInstallation } from './with-runtime.ts';

export function complianceText(report: ComplianceReport): string {
  const lines = [`HIPAA Security Rule safeguards on ${report.hostname}, ${new Date(report.generatedAt).toISOString()} (for your risk analysis; not a certification)`, ''];
  for (const s of report.safeguards) {
    lines.push(`${s.status === 'met' ? '[ok]     ' : '[WARNING]'} ${s.citation.padEnd(20)} ${s.title}`);
    for (const f of s.findings) lines.push(`            ${f}`);
    for (const w of s.warnings) lines.push(`            WARNING: ${w}`);
  }
  lines.push('', report.warnings ? `${report.warnings} warning(s)` : 'no warnings');
  return lines.join('\n');
}

export const complianceCommands: Command[] = [
  {
    name: 'compliance',
    summary: 'each HIPAA technical safeguard (45 CFR 164.312, backup, disposal) and how this installation meets it, from its live settings',
    details: ['Exit code 0 also with warnings; --json gives { safeguards: [{ id, citation, title, status, findings, warnings }], warnings }.'],
    json: true,
    args: { max: 0 },
    run: async (ctx) => {
      requireInstallation(ctx.config);
      if (!ctx.deps.compliance) throw new CliError(EX.software, 'this build has no compliance report');
      const report = await ctx.deps.compliance(ctx.config);
      if (ctx.json) outJson(report);
      else out(complianceText(report));
      return EX.ok;
    },
  },
];
