import type { Translation } from '../format.ts';
import type { en } from '../en/index.ts';
import { adminTexts } from './admin.ts';
import { adminDataTexts } from './admin-data.ts';
import { commonTexts } from './common.ts';
import { consoleTexts } from './console.ts';
import { portalTexts } from './portal.ts';

export const de = { ...commonTexts, ...portalTexts, ...consoleTexts, ...adminTexts, ...adminDataTexts } as const satisfies Translation<typeof en>;
