import { describe, expect, it } from 'vitest';
import { canonicalJson, eventHash, firstBreak, GENESIS_HASH, type AuditEvent } from './chain.ts';
import { auditSigner, checkpointValid } from './checkpoint.ts';
import { auditCsv } from './export.ts';

function chain(n: number): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const unhashed = { seq, at: 1000 + seq, node: 'n', actor: 'admin', action: 'domain.pin', target: 'partner.test', ip: null, protocol: 'cli', detail: { from: null, to: 'dane' }, prevHash };
    const event = { ...unhashed, hash: eventHash(unhashed) };
    events.push(event);
    prevHash = event.hash;
  }
  return events;
}

describe('audit chain (pure)', () => {
  it('canonical JSON sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: undefined, x: 'é' }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"x":"é","z":1}]},"b":1}');
  });

  it('a chain checks across pages, and a page that does not continue the one before is a break', () => {
    const events = chain(6);
    expect(firstBreak(events.slice(0, 3), null)).toBeNull();
    expect(firstBreak(events.slice(3), { seq: 3, hash: events[2].hash })).toBeNull();
    expect(firstBreak(events.slice(3), { seq: 3, hash: events[1].hash })).toMatchObject({ kind: 'relinked', seq: 4 });
    expect(firstBreak(events.slice(1), null)).toMatchObject({ kind: 'missing', seq: 1 });
  });

  it('checkpoints verify under their own key only', () => {
    const signer = auditSigner(Buffer.alloc(32, 1));
    const checkpoint = signer.sign(6, 'ab'.repeat(32), 5000);
    expect(checkpointValid(checkpoint, signer.publicKey)).toBe(true);
    expect(checkpointValid({ ...checkpoint, seq: 7 }, signer.publicKey)).toBe(false);
    expect(checkpointValid(checkpoint, auditSigner(Buffer.alloc(32, 2)).publicKey)).toBe(false);
    expect(checkpointValid({ ...checkpoint, signature: 'not base64!' }, signer.publicKey)).toBe(false);
  });

  it('CSV quotes what needs it and defuses spreadsheet formulas', () => {
    const [event] = chain(1);
    const csv = auditCsv([{ ...event, actor: '=HYPERLINK("http://x")', target: 'a,b', detail: { note: 'line\nbreak' } }]);
    const [header, row] = csv.split('\r\n');
    expect(header).toBe('seq,at,node,actor,action,target,ip,protocol,detail,prev_hash,hash');
    expect(row).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(row).toContain('"a,b"');
    expect(row).toContain('"{""note"":""line\\nbreak""}"');
  });
});
