/**
 * What a link to a destination proved (DESIGN.md §6). MTA-STS and DANE add `dane` and the
 * MTA-STS form of `tls-verified` in the link-security issue; `end-to-end` is not a link.
 */
export type LinkLevel = 'none' | 'tls' | 'tls-verified';

export const LEVEL_ORDER: LinkLevel[] = ['none', 'tls', 'tls-verified'];

export interface LinkObservation {
  domain: string;
  mxHost: string;
  ip: string | null;
  starttlsOffered: boolean;
  tlsVersion: string | null;
  cipher: string | null;
  certSubject: string | null;
  certValid: boolean;
  certError: string | null;
  requireTlsAdvertised: boolean;
  /** When we could not connect at all. */
  error: string | null;
  at: number;
}

export function levelOf(observation: Pick<LinkObservation, 'tlsVersion' | 'certValid'>): LinkLevel {
  if (!observation.tlsVersion) return 'none';
  return observation.certValid ? 'tls-verified' : 'tls';
}

export function meets(level: LinkLevel, required: LinkLevel): boolean {
  return LEVEL_ORDER.indexOf(level) >= LEVEL_ORDER.indexOf(required);
}
