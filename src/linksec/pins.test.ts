import { afterEach, describe, expect, it } from 'vitest';
import { hasPostgres, openTestStore, type TestStore } from '../../test/helpers/stores.ts';
import { LinkPins } from './pins.ts';

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`admin pins on ${dialect}`, async () => {
    const available = dialect === 'sqlite' || (await hasPostgres());
    let current: TestStore | undefined;
    afterEach(async () => current?.cleanup());

    it.skipIf(!available)('a pin set elsewhere holds for the next read at once (issue 10 item 5: was a 30 s cache)', async () => {
      current = await openTestStore(dialect);
      // Two instances on one database: the CLI process and a delivery node.
      const cli = new LinkPins(current.store);
      const node = new LinkPins(current.store);
      expect(await node.pinOf('partner.test')).toBeUndefined();
      await cli.pin('Partner.TEST.', 'tls-verified', null, 1000);
      expect(await node.pinOf('partner.test')).toBe('tls-verified');
      await cli.pin('partner.test', 'dane', 'raised', 2000);
      expect(await node.pinOf('PARTNER.test')).toBe('dane');
      expect(await cli.unpin('partner.test')).toBe(true);
      expect(await node.pinOf('partner.test')).toBeUndefined();
    });

    it.skipIf(!available)('keys a pin by the A-label form, as delivery names the domain', async () => {
      current = await openTestStore(dialect);
      const pins = new LinkPins(current.store);
      await pins.pin('bücher.example', 'tls', null, 1000);
      expect(await pins.pinOf('xn--bcher-kva.example')).toBe('tls');
      expect((await pins.list()).map((p) => p.domain)).toEqual(['xn--bcher-kva.example']);
      await expect(pins.pin('x.test', 'secure', null, 1)).rejects.toThrow(/unknown link level/);
    });
  });
}
