import { describe, expect, it } from 'vitest';
import { autoReplyRefusal } from './auto-reply.ts';
import { parseHeaders } from './headers.ts';

const own = 'notices@gw.test';
const check = (mailFrom: string, head = 'Subject: Re: You have a secure message\r\n') => autoReplyRefusal({ mailFrom, headers: parseHeaders(head), ownAddress: own });

describe('autoReplyRefusal (RFC 3834 §2)', () => {
  it('answers a person who replied', () => {
    expect(check('patient@home.test')).toBeNull();
    expect(check('patient@home.test', 'Auto-Submitted: no\r\nSubject: Re: x\r\n')).toBeNull();
  });

  it.each([
    ['', 'null-sender'],
    ['NOTICES@gw.test', 'own-address'],
    ['MAILER-DAEMON@home.test', 'role-address'],
    ['owner-list@home.test', 'role-address'],
    ['list-request@home.test', 'role-address'],
    ['no-reply@home.test', 'role-address'],
  ])('not to %j (%s)', (mailFrom, reason) => {
    expect(check(mailFrom)).toBe(reason);
  });

  it.each([
    ['Auto-Submitted: auto-replied\r\n', 'auto-submitted'],
    ['Auto-Submitted: Auto-Generated; owner-email="x@y.test"\r\n', 'auto-submitted'],
    ['X-Auto-Response-Suppress: All\r\n', 'auto-submitted'],
    ['List-Id: <patients.home.test>\r\n', 'list-or-bulk'],
    ['List-Unsubscribe: <mailto:u@home.test>\r\n', 'list-or-bulk'],
    ['Precedence: Bulk\r\n', 'list-or-bulk'],
    ['Precedence: junk\r\n', 'list-or-bulk'],
  ])('not to mail with %j', (head, reason) => {
    expect(check('patient@home.test', `${head}Subject: x\r\n`)).toBe(reason);
  });
});
