import net, { type LookupFunction } from 'node:net';

/**
 * A `lookup` for node:https/tls that connects to the address `connectAddress` picks (our own
 * resolver, a test's DNS), so a fetch never falls back to the system's resolver.
 */
export function lookupVia(connectAddress: (host: string) => Promise<string>): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    connectAddress(hostname).then(
      (address) => {
        const family = net.isIPv6(address) ? 6 : 4;
        if (options.all) callback(null, [{ address, family }]);
        else callback(null, address, family);
      },
      (error: unknown) => callback(error),
    );
  }) as unknown as LookupFunction;
}
