/* English texts of src/web/portal.ts (keys `portal.…`); the German ones are in de/portal.ts. */
export const portalTexts = {
} as const;
