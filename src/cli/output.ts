/**
 * Where the CLI writes: results on stdout (with --json nothing but one JSON document), what
 * it did and why it failed on stderr, one line each, prefixed `sealgate:`.
 */
export function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function outJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function note(text: string): void {
  process.stderr.write(`sealgate: ${text}\n`);
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
