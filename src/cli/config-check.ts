/** `sealgate config check [--changed] [--json]`: what the gateway would run with, and what is wrong with it. */
import path from 'node:path';
import { changedKeys, configProblems, configWarnings, nestChanged, parseConfig, type Config } from '../config/index.ts';
import type { Command } from './command.ts';
import { CliError, EX } from './exit.ts';
import { note, out, outJson } from './output.ts';

/**
 * The config of an empty file, with the data dir resolved as loadConfig resolves it, and each
 * configured domain with its defaults (so `--changed` shows a domain's smarthost, not the
 * defaults inside its entry).
 */
function defaults(config: Config): Config {
  const placeholder = Object.fromEntries(Object.keys(config.domains).map((domain) => [domain, { smarthost: 'unset:0' }]));
  const base = parseConfig({ domains: placeholder });
  return { ...base, dataDir: path.resolve(base.dataDir) };
}

export const configCommands: Command[] = [
  {
    name: 'config check',
    usage: '[--changed]',
    summary: 'validate the configuration (schema, certificate and key files, listener clashes) and print it',
    details: [
      'Exit 0 when the gateway can run with it (warnings go to stderr), 78 when not, each problem one line on stderr.',
      'Warnings (not failures): a local smarthost hop (domains.*.smarthost) that does not require TLS.',
    ],
    options: { changed: { type: 'boolean', help: 'only the keys that differ from the built-in defaults (like postconf -n)' } },
    json: true,
    args: { max: 0 },
    run: async ({ config, json, options }) => {
      const problems = configProblems(config);
      const warnings = configWarnings(config);
      const changed = options.changed ? changedKeys(config, defaults(config)) : null;
      if (json) outJson({ valid: problems.length === 0, problems, warnings, config: changed ? nestChanged(changed) : config });
      else if (changed) out(changed.length ? changed.map((c) => `${c.key} = ${typeof c.value === 'string' ? c.value : JSON.stringify(c.value)}`).join('\n') : '(every key has its default)');
      else out(JSON.stringify(config, null, 2));
      for (const warning of warnings) note(`warning: ${warning}`);
      if (problems.length) {
        for (const problem of problems.slice(0, -1)) note(problem);
        throw new CliError(EX.config, problems[problems.length - 1]);
      }
      if (!json) note('configuration is valid');
      return EX.ok;
    },
  },
];
