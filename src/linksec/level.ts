import { LINK_LEVELS, type LinkRequirement } from '../kernel/index.ts';

/**
 * What a link to a destination proved (docs/architecture.md §6): `tls-verified` is a PKIX-valid
 * certificate for the MX name (what MTA-STS `enforce` demands), `dane` a TLSA match under
 * DNSSEC. `end-to-end` is not a property of a link.
 */
export type LinkLevel = LinkRequirement;

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
  /** MTA-STS mode of the domain's policy when the attempt was made (null: no policy). */
  mtaSts?: 'enforce' | 'testing' | 'none' | null;
  /** DANE: `matched` / `mismatch` with usable TLSA records under DNSSEC; null when none. */
  dane?: 'matched' | 'mismatch' | null;
  /** When we could not connect at all. */
  error: string | null;
  at: number;
}

export function levelOf(observation: Pick<LinkObservation, 'tlsVersion' | 'certValid' | 'dane'>): LinkLevel {
  if (!observation.tlsVersion) return 'none';
  if (observation.dane === 'matched') return 'dane';
  return observation.certValid ? 'tls-verified' : 'tls';
}

export function meets(level: LinkLevel, required: LinkLevel): boolean {
  return LINK_LEVELS.indexOf(level) >= LINK_LEVELS.indexOf(required);
}
