/* English texts of src/web/console.ts and compose.ts (keys `console.…`); the German ones are in de/console.ts. */
export const consoleTexts = {
} as const;
