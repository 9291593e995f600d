import { afterEach, expect, it, vi } from 'vitest';
import { DnsError, type Resolver } from '../dns/index.ts';
import { authResolver } from './resolver.ts';

afterEach(() => vi.useRealTimers());

function countingResolver(answers: Record<string, string[][] | DnsError>) {
  const asked: string[] = [];
  const never = async (): Promise<never> => {
    throw new DnsError('nodata', 'ENODATA', 'none');
  };
  const resolver: Resolver = {
    resolveTxt: async (name: string) => {
      asked.push(name);
      const answer = answers[name];
      if (!answer) throw new DnsError('nxdomain', 'ENOTFOUND', `${name} does not exist`);
      if (answer instanceof DnsError) throw answer;
      return answer;
    },
    resolveMx: never,
    resolve4: never,
    resolve6: never,
  };
  return { resolver, asked };
}

it('reuses an answer, and a "no such name", for a minute; a failed lookup is asked again', async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  const { resolver, asked } = countingResolver({ '_dmarc.a.test': [['v=DMARC1; p=reject']], 'flaky.test': new DnsError('transient', 'ETIMEOUT', 'timed out') });
  const lookup = authResolver(resolver);
  expect(await lookup('_dmarc.a.test', 'TXT')).toEqual([['v=DMARC1; p=reject']]);
  expect(await authResolver(resolver)('_DMARC.a.test.', 'txt'), 'another message, same resolver').toEqual([['v=DMARC1; p=reject']]);
  await expect(lookup('_dmarc.b.test', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  await expect(lookup('_dmarc.b.test', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  await expect(lookup('flaky.test', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' });
  await expect(lookup('flaky.test', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' });
  expect(asked).toEqual(['_dmarc.a.test', '_dmarc.b.test', 'flaky.test', 'flaky.test']);
  vi.setSystemTime(Date.now() + 61_000);
  await lookup('_dmarc.a.test', 'TXT');
  expect(asked.at(-1)).toBe('_dmarc.a.test');
});
