import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordedAuthResults } from './auth-results.ts';

/* The Authentication-Results fields of the real chains in test/fixtures/received/ (README there). */
const DIR = path.resolve(import.meta.dirname, '../../test/fixtures/received');
const recorded = (name: string) => recordedAuthResults(readFileSync(path.join(DIR, name), 'latin1'));

describe('recordedAuthResults', () => {
  it('reads each field, newest first, with its authserv-id and properties, comments dropped', () => {
    const ozlabs = recorded('gmail-submission-ozlabs.eml');
    expect(ozlabs.map((r) => r.authservId)).toEqual(['lists.ozlabs.org', 'lists.ozlabs.org', 'lists.ozlabs.org']);
    expect(ozlabs[0].results[0]).toMatchObject({ method: 'dkim', result: 'fail', properties: { 'header.d': 'gmail.com', 'header.s': '20230601' } });
    expect(ozlabs[2].results).toEqual([{ method: 'spf', result: 'pass', properties: { 'smtp.mailfrom': 'gmail.com' } }]);
  });

  it('reads the Microsoft 365 form that names no authserv-id', () => {
    const [microsoft] = recorded('microsoft365-mapi-kontron.eml');
    expect(microsoft.authservId).toBeNull();
    expect(microsoft.results.map((r) => `${r.method}=${r.result}`)).toEqual(['dkim=none', 'dmarc=none']);
  });

  it('reads Stalwart\'s results, two SPF lines included', () => {
    const [stalwart] = recorded('stalwart-frappe.eml');
    expect(stalwart.authservId).toBe('inbound.frappemail.com');
    expect(stalwart.results.map((r) => `${r.method}=${r.result}`)).toEqual(['dkim=pass', 'spf=pass', 'spf=pass', 'iprev=pass', 'dmarc=pass']);
    expect(stalwart.results[2].properties['smtp.mailfrom']).toBe('sagar.s@frappe.io');
  });
});
