/**
 * RFC 2047 B words of UTF-8 text, at most `maxBytes` UTF-8 bytes of text each (39 bytes make a
 * 64-character word, within the 75 that §2 allows), never splitting a character.
 */
export function encodedWords(text: string, maxBytes = 39): string[] {
  const words: string[] = [];
  let chunk = '';
  for (const char of text) {
    if (Buffer.byteLength(chunk + char, 'utf8') > maxBytes) {
      words.push(chunk);
      chunk = '';
    }
    chunk += char;
  }
  if (chunk) words.push(chunk);
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`);
}
