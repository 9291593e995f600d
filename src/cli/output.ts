/**
 * Where the CLI writes: results on stdout (with --json nothing but one JSON document), what
 * it did and why it failed on stderr, one line each, prefixed `sealgate:`.
 */
export function out(text: string): void {
  process.stdout.write(`${terminalSafe(text)}\n`);
}

/**
 * JSON.stringify escapes C0 controls only; the rest of what terminalSafe escapes can only sit
 * inside a JSON string, where `\uXXXX` reads back as the same character: lossless for a program,
 * inert on a terminal (i12-05).
 */
export function outJson(value: unknown): void {
  process.stdout.write(`${terminalSafe(JSON.stringify(value, null, 2))}\n`);
}

export function note(text: string): void {
  process.stderr.write(`sealgate: ${terminalSafe(text)}\n`);
}

/*
 * What the CLI prints often comes from strangers: an MX certificate's subject, a server's
 * reply, a sender address. Node escapes C0 controls in certificate names but not C1 ones
 * (U+009B is CSI, U+009D OSC: colours, cursor moves, window titles on xterm and others) nor
 * bidi controls, which reorder what the admin reads (Trojan Source). Everything a terminal
 * acts on, except LF and TAB, is printed as a visible `\uXXXX` instead.
 */
// C0 but TAB and LF, DEL, C1; bidi embeddings, overrides, isolates and marks; zero-width and
// invisible characters, line and paragraph separators, BOM, soft hyphen.
const TERMINAL_CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

/** `text` with every terminal control or invisible character spelled as `\uXXXX`. */
export function terminalSafe(text: string): string {
  return text.replace(TERMINAL_CONTROLS, (ch) => `\\u${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);
}

/**
 * `sealgate queue list | head -1`: the reader went away. Like any Unix filter, stop quietly
 * (exit 0, no stack trace): there is nobody left to tell.
 */
export function stopQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
}
