/**
 * `sealgate keys …`: the commands' words and options. What they run is in keys-run.ts, loaded
 * only when a keys command runs: OpenPGP.js and the X.509 stack cost every other command
 * (and every gateway start) about half a second otherwise.
 */
import type { Command, CommandContext } from './command.ts';

type Run = 'generate' | 'importKeys' | 'exportKey' | 'list' | 'show' | 'remove' | 'discover';
const lazy = (name: Run) => async (ctx: CommandContext): Promise<number> => (await import('./keys-run.ts'))[name](ctx);

export const keysCommands: Command[] = [
  {
    name: 'keys generate',
    usage: 'ADDRESS [--name NAME] [--expires-days N] [--wkd-dir DIR]',
    summary: 'make an OpenPGP key (Ed25519/X25519) for one of our users; prints the fingerprint and what to publish in WKD',
    options: {
      name: { type: 'string', value: 'NAME', help: 'the name in the user ID' },
      'expires-days': { type: 'string', value: 'N', help: 'the key expires after N days (default: never)' },
      'wkd-dir': { type: 'string', value: 'DIR', help: 'also write the WKD file (and policy) under DIR, the web root of openpgpkey.<domain>' },
    },
    json: true,
    args: { min: 1, max: 1 },
    run: lazy('generate'),
  },
  {
    name: 'keys import',
    usage: 'FILE [--key KEYFILE] [--address A]',
    summary: "import a key: an OpenPGP secret key or an S/MIME certificate with --key is one of our users' keys, a public key or certificate a correspondent's",
    options: {
      key: { type: 'string', value: 'KEYFILE', help: 'the private key (PEM or PKCS#8 DER) of the S/MIME certificate in FILE: the certificate becomes our user\'s' },
      address: { type: 'string', value: 'A', help: 'file the key under this address only (it must name it)' },
    },
    json: true,
    args: { min: 1, max: 1 },
    run: lazy('importKeys'),
  },
  {
    name: 'keys export',
    usage: 'ADDRESS|FINGERPRINT [--binary]',
    summary: 'print the public key (armored OpenPGP or PEM certificate) used for ADDRESS, or the one with FINGERPRINT; private keys are never exported',
    options: { binary: { type: 'boolean', help: 'binary (the form WKD serves) instead of armor/PEM' } },
    args: { min: 1, max: 1 },
    run: lazy('exportKey'),
  },
  { name: 'keys list', usage: '[ADDRESS]', summary: "our users' keys and correspondents' keys, with source, state and trust", json: true, args: { max: 1 }, run: lazy('list') },
  { name: 'keys show', usage: 'ADDRESS|FINGERPRINT', summary: 'the keys of an address or one key in detail, and which one is used and why', json: true, args: { min: 1, max: 1 }, run: lazy('show') },
  { name: 'keys delete', usage: 'FINGERPRINT', summary: 'delete a key (ours or a correspondent\'s) by fingerprint', args: { min: 1, max: 1 }, run: lazy('remove') },
  {
    name: 'keys discover',
    usage: 'ADDRESS [--fresh]',
    summary: "look up a correspondent's OpenPGP key in WKD, then the configured keyserver (exit 66: none published, 75: a source did not answer)",
    options: { fresh: { type: 'boolean', help: 'ask again even when a cached answer is still valid' } },
    json: true,
    args: { min: 1, max: 1 },
    run: lazy('discover'),
  },
];
