/*
 * Bidirectional-text controls reorder what a reader sees: `inv\u202Efdp.exe` shows as
 * "invexe.pdf". Names and subjects (sender names, subjects, attachment and uploaded file names)
 * never need them, so they are removed wherever such a name is shown or saved (Unicode TR36
 * §2.5 / CVE-2021-42574 "Trojan Source"; Mozilla and GitHub strip or flag the same set).
 * Message bodies keep theirs: right-to-left text uses marks legitimately.
 */

// ALM, LRM/RLM, the embeddings and overrides LRE RLE PDF LRO RLO, the isolates LRI RLI FSI PDI.
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu;

/** `text` without any bidi control character (names and subjects, for display or storage). */
export function stripBidiControls(text: string): string {
  return text.replace(BIDI_CONTROLS, '');
}

export const hasBidiControls = (text: string): boolean => new RegExp(BIDI_CONTROLS.source, 'u').test(text);

// Characters that hide where a name really ends without reordering it: C1 controls (NEL,
// CSI), line and paragraph separators, zero-width space, word joiner and the invisible
// operators, BOM, soft hyphen (Unicode TR36 §3.1 / UTS 39 "invisible" and "Default_Ignorable").
// ZWNJ/ZWJ (U+200C/D) stay: some scripts and emoji sequences need them.
const HIDDEN = /[\u0080-\u009f\u2028\u2029\u200b\u2060-\u2064\ufeff\u00ad]/gu;

/** `text` without bidi controls or invisible characters: for names and subjects shown or saved. */
export function stripHiddenCharacters(text: string): string {
  return stripBidiControls(text).replace(HIDDEN, '');
}
