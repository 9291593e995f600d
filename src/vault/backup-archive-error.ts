/** A backup that cannot be written or read, as a sentence a person acts on. */
export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}
