import type { Translation } from '../format.ts';
import type { portalTexts as en } from '../en/portal.ts';

export const portalTexts = {
} as const satisfies Translation<typeof en>;
