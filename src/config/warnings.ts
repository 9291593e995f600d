import type { Config } from './schema.ts';

/**
 * What is allowed but breaks the promise "never silently in the clear": printed by
 * `config check` and logged by `serve` at start. Pure (no I/O).
 */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  for (const [domain, local] of Object.entries(config.domains)) {
    const policy = config.delivery.tlsPolicies[domain] ?? config.delivery.defaultTlsPolicy;
    if (policy !== 'opportunistic') continue;
    const source = config.delivery.tlsPolicies[domain] ? `delivery.tlsPolicies["${domain}"]` : `delivery.defaultTlsPolicy (no delivery.tlsPolicies["${domain}"])`;
    warnings.push(`domains["${domain}"].smarthost ${local.smarthost} does not require TLS: ${source} is "opportunistic", so mail for ${domain} crosses that hop in plain text when the smarthost offers no STARTTLS; set delivery.tlsPolicies["${domain}"] to "required" or "verified"`);
  }
  if (config.ops.enabled && !isLoopback(config.ops.host)) {
    warnings.push(`ops.host ${config.ops.host} is not a loopback address: /metrics and /readyz answer anyone who can reach ${config.ops.host}:${config.ops.port} without a login (plain HTTP); firewall it or set ops.host to 127.0.0.1`);
  }
  return warnings;
}

function isLoopback(host: string): boolean {
  return /^127\./.test(host) || host === '::1' || host === 'localhost';
}
