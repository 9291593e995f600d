import { adminTexts } from './admin.ts';
import { adminDataTexts } from './admin-data.ts';
import { commonTexts } from './common.ts';
import { consoleTexts } from './console.ts';
import { portalTexts } from './portal.ts';

/** The complete catalogue: the source of every key and of the placeholders each takes. */
export const en = { ...commonTexts, ...portalTexts, ...consoleTexts, ...adminTexts, ...adminDataTexts } as const;
