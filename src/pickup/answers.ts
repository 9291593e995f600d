/*
 * How a question's answer is compared (issue 10 item 9): the recipient should not fail on
 * case, spacing or punctuation the sender never meant as part of the answer. Pure, so compose
 * can show the sender the form that will be compared while they type.
 */

/** Dashes, connectors and slashes separate words ("Jean-Luc" = "jean luc"); other punctuation goes. */
const SEPARATORS = /[\p{Pd}\p{Pc}/\\]/gu;
/** Punctuation, and the accents typed on their own (` and ´), which keyboards make easily by mistake. */
const PUNCTUATION = /[\p{P}`´]/gu;
/*
 * Characters that show as nothing (zero-width space, soft hyphen, word joiner, BOM, variation
 * selectors): pasted from a document into the sender's answer, they made it one the recipient
 * could never type, and the message locked.
 */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * The canonical form of an answer: Unicode NFKC, case folded (upper then lower case, which
 * folds ß to ss as full case folding does; JavaScript has no casefold), dashes and
 * slashes as spaces, other punctuation dropped, whitespace collapsed and trimmed.
 * "  St. Mary's–Hospital " and "st marys hospital" compare equal.
 */
export function normalizeAnswer(answer: string): string {
  return answer
    .normalize('NFKC')
    .replace(INVISIBLE, '')
    .toUpperCase()
    .toLowerCase()
    // toLowerCase writes a word-final sigma as ς; case folding has only σ.
    .replace(/ς/gu, 'σ')
    .replace(SEPARATORS, ' ')
    .replace(PUNCTUATION, '')
    .replace(/\s+/gu, ' ')
    .trim()
    .normalize('NFKC');
}

/**
 * Why `answer` cannot protect a message, or null: with case, spaces and punctuation ignored
 * nothing may be left ("???", "--"), and then any recipient's "." would match it.
 */
export function answerRefusal(answer: string): string | null {
  return normalizeAnswer(answer) === '' ? 'the answer has no letters or digits (case, spaces and punctuation are ignored when it is compared); choose an answer with some' : null;
}

/**
 * The form answers were compared in before issue 10 (case and spaces only). Messages sealed
 * then keep opening: the gate tries this form too when it differs (sealed-store.ts `open`).
 */
export function legacyAnswerForm(answer: string): string {
  return answer.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, ' ');
}
