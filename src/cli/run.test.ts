import { describe, expect, it } from 'vitest';
import { commandHelp, groupHelp } from './command.ts';
import { COMMANDS } from './run.ts';

describe('the command table', () => {
  it('gives every command a unique name, a summary and its own help', () => {
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
    for (const command of COMMANDS) {
      expect(command.summary.length, command.name).toBeGreaterThan(10);
      const help = commandHelp(command);
      expect(help.startsWith(`usage: sealgate ${command.name}`), command.name).toBe(true);
      expect(help).toContain('--config FILE');
      for (const option of Object.keys(command.options ?? {})) expect(help, `${command.name} --${option}`).toContain(`--${option}`);
      if (command.json) expect(help).toContain('--json');
    }
  });

  it('offers --json on every listing command', () => {
    const listings = ['queue list', 'queue show', 'queue verify', 'user list', 'user alias list', 'domain show', 'domain pins', 'domain check', 'tlsrpt', 'config check', 'receipt', 'receipt key', 'receipt verify', 'trace'];
    for (const name of listings) expect(COMMANDS.find((c) => c.name === name)?.json, name).toBe(true);
  });

  it('lists a group with every member', () => {
    const help = groupHelp('queue', COMMANDS);
    for (const name of ['list', 'show', 'retry', 'flush', 'delete', 'hold', 'release', 'verify']) expect(help).toContain(`  queue ${name}`);
    expect(help).not.toContain('user add');
  });
});
