import { randomAlphanumeric } from '../kernel/index.ts';

/** Queue ids: 62^16 ≈ 2^95, as good as the 12 random bytes of the old base64url ids. */
export const MESSAGE_ID_LENGTH = 16;

export function newMessageId(): string {
  return randomAlphanumeric(MESSAGE_ID_LENGTH);
}

/**
 * What a queue id looks like, old (base64url, may start with `-`) or new: lets the CLI take
 * an old id such as `-VWXU…` as an id rather than as options.
 */
export const QUEUE_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/;
