import type { Translation } from '../format.ts';
import type { consoleTexts as en } from '../en/console.ts';

export const consoleTexts = {
} as const satisfies Translation<typeof en>;
