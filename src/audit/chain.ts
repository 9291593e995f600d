import { createHash } from 'node:crypto';

/*
 * The audit chain (issue 13): every event holds the SHA-256 of the one before, so an edited,
 * removed or reordered event breaks the chain at that event. Pure: hashing and checking rows,
 * no storage. An unkeyed chain can be rebuilt by whoever can write the table; the signed
 * checkpoints (checkpoint.ts) are what a rebuilt chain cannot match.
 */

/** What an event says. Nothing secret: no bodies, passwords, codes or keys. */
export interface AuditEventInput {
  /** Who acted: a user address, `admin` (the CLI), `system`, or `stranger` for unauthenticated peers. */
  actor: string;
  /** What happened, dotted: `login.failed`, `pickup.retract`, `domain.pin` … */
  action: string;
  /** What it happened to: a message id, a domain, a user. */
  target?: string | null;
  ip?: string | null;
  /** `smtp`, `console`, `portal`, `cli` … */
  protocol?: string | null;
  /** Further facts (before/after for admin changes), as JSON values. */
  detail?: Record<string, unknown>;
}

export interface AuditEvent {
  seq: number;
  at: number;
  node: string;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
  protocol: string | null;
  detail: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/**
 * JSON with object keys sorted at every depth: one byte form per value, whoever wrote it.
 * Built by appending, not with entries/filter/map/join arrays per level: the receipt and the
 * audit events of every relayed message go through it (issue 14).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  let out = '';
  // Sorted by UTF-16 code units, as `<` compares.
  for (const key of Object.keys(object).sort()) {
    const item = object[key];
    if (item === undefined) continue;
    out += `${out === '' ? '' : ','}${JSON.stringify(key)}:${canonicalJson(item)}`;
  }
  return `{${out}}`;
}

/** `detailJson`: canonicalJson(event.detail) when the caller has it already. */
export function eventHash(event: Omit<AuditEvent, 'hash'>, detailJson = canonicalJson(event.detail)): string {
  // canonicalJson of the array of these fields, with the detail's text given.
  const fields = [event.seq, event.at, event.node, event.actor, event.action, event.target, event.ip, event.protocol].map(canonicalJson).join(',');
  const body = `[${fields},${detailJson},${canonicalJson(event.prevHash)}]`;
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

export type ChainBreak =
  | { kind: 'missing'; seq: number; sentence: string }
  | { kind: 'edited'; seq: number; sentence: string }
  | { kind: 'relinked'; seq: number; sentence: string };

/**
 * Checks a run of events in `seq` order, continuing from `before` (the event just before the run,
 * or null at the start of the log). Returns the first break, or null.
 */
export function firstBreak(events: readonly AuditEvent[], before: { seq: number; hash: string } | null): ChainBreak | null {
  let previous = before ?? { seq: 0, hash: GENESIS_HASH };
  for (const event of events) {
    if (event.seq !== previous.seq + 1) {
      return { kind: 'missing', seq: previous.seq + 1, sentence: `event ${previous.seq + 1} is missing (removed, or the log was cut): the next event present is ${event.seq}` };
    }
    if (eventHash(event) !== event.hash) {
      return { kind: 'edited', seq: event.seq, sentence: `event ${event.seq} (${event.action}) was changed after it was written: its content does not match its hash` };
    }
    if (event.prevHash !== previous.hash) {
      return { kind: 'relinked', seq: event.seq, sentence: `event ${event.seq} (${event.action}) does not follow event ${previous.seq}: an event before it was changed, removed or reordered` };
    }
    previous = event;
  }
  return null;
}
