import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.ts';

describe('GroupCommit', () => {
  it('commits concurrent submissions together and resolves each with its own result', async () => {
    const batches: number[][] = [];
    const group = new GroupCommit<number, number>(async (items) => {
      batches.push(items);
      await new Promise((r) => setTimeout(r, 5));
      return items.map((i) => i * 10);
    });
    const first = await Promise.all([1, 2, 3].map((n) => group.submit(n)));
    expect(first).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
    const during = group.submit(4);
    const late = group.submit(5);
    expect(await Promise.all([during, late])).toEqual([40, 50]);
  });

  it('fails every caller of a failed commit, and recovers for the next', async () => {
    let fail = true;
    const group = new GroupCommit<string, string>(async (items) => {
      if (fail) throw new Error('disk full');
      return items;
    });
    await expect(Promise.all([group.submit('a'), group.submit('b')])).rejects.toThrow('disk full');
    fail = false;
    expect(await group.submit('c')).toBe('c');
  });
});
