import { domainToASCII } from 'node:url';

export interface ParsedAddress {
  local: string;
  domain: string;
}

/** `local@domain` with the domain lowercased and in A-labels; null when not an address. */
export function parseAddress(address: string): ParsedAddress | null {
  if (!address || address.length > 320 || /[\x00-\x1f\x7f\s<>]/.test(address.replace(/^"[^"]*"/, ''))) return null;
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  const local = address.slice(0, at);
  const rawDomain = address.slice(at + 1);
  if (rawDomain.startsWith('[')) {
    // Address literals ([127.0.0.1]) are syntax we recognise but never route to.
    return /^\[[0-9a-fA-F.:IPv6]+\]$/.test(rawDomain) ? { local, domain: rawDomain.toLowerCase() } : null;
  }
  const domain = domainToASCII(rawDomain.toLowerCase());
  if (!domain || domain.length > 255 || !/^[a-z0-9-]+(\.[a-z0-9-]+)*\.?$/.test(domain)) return null;
  return { local, domain: domain.replace(/\.$/, '') };
}

/**
 * Recipients a gateway may route. Source routes (`@a,@b:u@c`), %-hacks (`u%other@us`),
 * bang paths (`other!u@us`), quoted local parts hiding an `@`, `%` or `!`, and address
 * literals are the classic ways to turn a relay for "our domain" into an open one.
 */
export function isRoutableRecipient(address: string): boolean {
  if (address.startsWith('@') || address.includes(':') && address.startsWith('@')) return false;
  const parsed = parseAddress(address);
  if (!parsed) return false;
  const { local, domain } = parsed;
  if (domain.startsWith('[')) return false;
  if (local.length === 0 || local.length > 64) return false;
  if (/[%!@:,]/.test(local)) return false; // includes quoted forms: "a@b"@c, "a%b"@c
  if (local.startsWith('"') !== local.endsWith('"')) return false;
  return true;
}
