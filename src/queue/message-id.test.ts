import { describe, expect, it } from 'vitest';
import { newMessageId, QUEUE_ID_PATTERN } from './message-id.ts';

describe('queue ids', () => {
  it('never start with "-" and use letters and digits only (base64url ids did: `queue show -VWX…` was read as options)', () => {
    const ids = Array.from({ length: 20_000 }, newMessageId);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9]{16}$/);
      expect(id).toMatch(QUEUE_ID_PATTERN);
    }
    expect(new Set(ids).size).toBe(ids.length);
    // Every character of the alphabet turns up, at the first position too (no bias to a few).
    expect(new Set(ids.map((id) => id[0])).size).toBe(62);
  });

  it('still recognises old ids that start with "-"', () => {
    expect('-VWXUabcdefghijk').toMatch(QUEUE_ID_PATTERN);
    expect('--config').not.toMatch(QUEUE_ID_PATTERN);
  });
});
