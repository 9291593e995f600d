import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { createTestCa } from './ca.ts';
import { tempDir } from './ports.ts';

const temp = tempDir('ca');
afterAll(() => temp.cleanup());

it('issues certificates that chain to the test CA, and self-signed ones that do not', async () => {
  const ca = await createTestCa(temp.dir);
  const good = await ca.issue(['mx1.rig.test', '127.0.0.10']);
  expect(execFileSync('openssl', ['verify', '-CAfile', ca.caCertPath, good.certPath]).toString()).toMatch(/OK/);
  expect(new X509Certificate(good.certPem).checkHost('mx1.rig.test')).toBe('mx1.rig.test');
  const selfSigned = await ca.issue(['self.rig.test'], { selfSigned: true });
  expect(() => execFileSync('openssl', ['verify', '-CAfile', ca.caCertPath, selfSigned.certPath], { stdio: 'pipe' })).toThrow();
});
