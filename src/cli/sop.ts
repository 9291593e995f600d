/**
 * `sealgate sop …`: the Stateless OpenPGP command line (draft-dkg-openpgp-stateless-cli) over
 * src/e2e/openpgp. Runs without a config or data dir; data on stdin/stdout as bytes. Exit codes
 * are the draft's ("Failure Modes" section): 3 no signature, 19 missing argument, 29 cannot
 * decrypt, 37 unsupported option, 41 bad data, 59 output exists, 61 missing input, 69 unsupported
 * subcommand, 83 incompatible options, 89 unsupported profile, 1 anything else.
 */
import { existsSync, writeFileSync } from 'node:fs';
import * as openpgp from 'openpgp';
import { generateOpenpgpKey as generateKey, OPENPGP_KEY_PROFILES as KEY_PROFILES, openpgpDecrypt as decryptWith, openpgpEncrypt as encryptTo, openpgpSignDetached as signDetached, openpgpVerifyDetached as verifyDetached, readOpenpgpSecretKeys as readSecretKeys, type OpenpgpKeyProfile as KeyProfile } from '../e2e/index.ts';
import { INLINE_VERBS } from './sop-inline.ts';
import { MailError } from '../kernel/index.ts';
import { certsOf, dateOption, input, keysOf, parse, SOP_EXIT, SopError, stdin, verificationLines, withinWindow, type Verb } from './sop-io.ts';

export { SOP_EXIT } from './sop-io.ts';

function armorAs(kind: openpgp.enums.armor, data: Uint8Array, armor: boolean): Buffer {
  return armor ? Buffer.from(openpgp.armor(kind, data)) : Buffer.from(data);
}

const VERBS: Record<string, Verb> = {
  async version(argv, io) {
    const p = parse(argv, { backend: 'flag', extended: 'flag', 'sop-spec': 'flag' });
    if (p.flags.has('sop-spec')) io.write('draft-dkg-openpgp-stateless-cli-11\n');
    else if (p.flags.has('backend')) io.write(`OpenPGP.js ${openpgp.config.versionString.replace(/^OpenPGP\.js /, '')}\n`);
    else io.write(`sealgate-sop 0.1.0\n${p.flags.has('extended') ? `${openpgp.config.versionString}\n` : ''}`);
    return SOP_EXIT.ok;
  },
  async 'list-profiles'(argv, io) {
    const p = parse(argv, {});
    if (p.args[0] !== 'generate-key') throw new SopError(SOP_EXIT.unsupportedProfile, `${p.args[0] ?? '(none)'} takes no profiles`);
    io.write(`default: ${KEY_PROFILES.rfc4880}\n${Object.entries(KEY_PROFILES).map(([k, v]) => `${k}: ${v}\n`).join('')}`);
    return SOP_EXIT.ok;
  },
  async 'generate-key'(argv, io) {
    const p = parse(argv, { armor: 'flag', 'no-armor': 'flag', profile: 'value', 'signing-only': 'flag', 'with-key-password': 'value' });
    const profile = p.flags.get('profile')?.[0] ?? 'default';
    if (profile !== 'default' && !(profile in KEY_PROFILES)) throw new SopError(SOP_EXIT.unsupportedProfile, `unknown profile ${profile}`);
    const passphrase = p.flags.get('with-key-password')?.map((n) => input(n).toString('utf8').trimEnd())[0];
    const key = await generateKey({ userIds: p.args, now: new Date(), profile: profile === 'default' ? 'rfc4880' : (profile as KeyProfile), signingOnly: p.flags.has('signing-only'), passphrase });
    io.write(armorAs(openpgp.enums.armor.privateKey, key.secretKey, !p.flags.has('no-armor')));
    return SOP_EXIT.ok;
  },
  async 'extract-cert'(argv, io) {
    const p = parse(argv, { armor: 'flag', 'no-armor': 'flag' });
    const keys = await readSecretKeys(await stdin()).catch(() => { throw new SopError(SOP_EXIT.badData, 'stdin holds no OpenPGP secret key'); });
    io.write(armorAs(openpgp.enums.armor.publicKey, Buffer.concat(keys.map((k) => k.toPublic().write())), !p.flags.has('no-armor')));
    return SOP_EXIT.ok;
  },
  async sign(argv, io) {
    const p = parse(argv, { armor: 'flag', 'no-armor': 'flag', as: 'value', 'micalg-out': 'value', 'with-key-password': 'value' });
    if (!p.args.length) throw new SopError(SOP_EXIT.missingArg, 'sign needs KEYS');
    const { signature } = await signDetached(await stdin(), await keysOf(p.args), new Date(), { armor: !p.flags.has('no-armor'), text: p.flags.get('as')?.[0] === 'text' });
    io.write(signature);
    return SOP_EXIT.ok;
  },
  async verify(argv, io) {
    const p = parse(argv, { 'not-before': 'value', 'not-after': 'value' });
    if (p.args.length < 2) throw new SopError(SOP_EXIT.missingArg, 'verify needs SIGNATURES and CERTS');
    const now = new Date();
    const notBefore = dateOption(p, 'not-before', null, now);
    const notAfter = dateOption(p, 'not-after', now, now);
    const signatures = input(p.args[0]);
    const certs = await certsOf(p.args.slice(1));
    const verifications = await verifyDetached(await stdin(), signatures, certs, now).catch(() => []);
    const lines = verificationLines(withinWindow(verifications, notBefore, notAfter));
    if (!lines) throw new SopError(SOP_EXIT.noSignature, 'no acceptable signature');
    io.write(lines);
    return SOP_EXIT.ok;
  },
  async encrypt(argv, io) {
    const p = parse(argv, { armor: 'flag', 'no-armor': 'flag', as: 'value', 'sign-with': 'value', 'with-password': 'value', 'with-key-password': 'value', profile: 'value' });
    const signers = await keysOf(p.flags.get('sign-with') ?? []);
    const passwords = (p.flags.get('with-password') ?? []).map((n) => input(n).toString('utf8'));
    if (!p.args.length && !passwords.length) throw new SopError(SOP_EXIT.missingArg, 'encrypt needs CERTS or --with-password');
    io.write(await encryptTo(await stdin(), { recipients: await certsOf(p.args), signers, passwords, now: new Date(), armor: !p.flags.has('no-armor'), text: p.flags.get('as')?.[0] === 'text' }));
    return SOP_EXIT.ok;
  },
  async decrypt(argv, io) {
    const p = parse(argv, { 'verify-with': 'value', 'verifications-out': 'value', 'with-password': 'value', 'with-key-password': 'value', 'session-key-out': 'value', 'with-session-key': 'value', 'verify-not-before': 'value', 'verify-not-after': 'value' });
    const now = new Date();
    const notBefore = dateOption(p, 'verify-not-before', null, now);
    const notAfter = dateOption(p, 'verify-not-after', now, now);
    const verify = await certsOf(p.flags.get('verify-with') ?? []);
    const passwords = (p.flags.get('with-password') ?? []).map((n) => input(n).toString('utf8'));
    const out = p.flags.get('verifications-out')?.[0];
    if (out && existsSync(out)) throw new SopError(SOP_EXIT.outputExists, `${out} already exists`);
    // Missing (61) or unreadable (41) KEYS are the caller's to know, not "cannot decrypt".
    const keys = await keysOf(p.args);
    let result;
    try {
      result = await decryptWith(await stdin(), { keys, passwords, verify, now });
    } catch (error) {
      // crypto.ts readMessage: 5.6.0, the input is not an OpenPGP message at all.
      throw new SopError(error instanceof MailError && error.enhanced === '5.6.0' ? SOP_EXIT.badData : SOP_EXIT.cannotDecrypt, (error as Error).message);
    }
    if (out) writeFileSync(out, verificationLines(withinWindow(result.signatures, notBefore, notAfter)), { flag: 'wx' });
    io.write(result.data);
    return SOP_EXIT.ok;
  },
  async armor(argv, io) {
    parse(argv, { label: 'value' });
    const data = await stdin();
    if (data.toString('latin1', 0, 64).trimStart().startsWith('-----BEGIN PGP')) return io.write(data), SOP_EXIT.ok;
    // The packet tag decides the label (draft: "armor" infers it).
    const tag = data[0] & 0x40 ? data[0] & 0x3f : (data[0] >> 2) & 0x0f;
    const kind = tag === 5 ? openpgp.enums.armor.privateKey : tag === 6 ? openpgp.enums.armor.publicKey : tag === 2 ? openpgp.enums.armor.signature : openpgp.enums.armor.message;
    io.write(armorAs(kind, data, true));
    return SOP_EXIT.ok;
  },
  async dearmor(argv, io) {
    parse(argv, {});
    try {
      const { data } = await openpgp.unarmor((await stdin()).toString('utf8'));
      // A string input gives the data as one Uint8Array, not a stream.
      io.write(Buffer.from(data as unknown as Uint8Array));
    } catch {
      throw new SopError(SOP_EXIT.badData, 'stdin is not ASCII-armored OpenPGP data');
    }
    return SOP_EXIT.ok;
  },
  ...INLINE_VERBS,
};

export const SOP_VERBS = Object.keys(VERBS);

/** `sealgate sop VERB …`; the exit code is the draft's. */
export async function runSop(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const io = { write: (b: Uint8Array | string) => void process.stdout.write(b) };
  if (!verb || verb === '--help' || verb === '-h') {
    process.stdout.write(`usage: sealgate sop <verb> [options] [--] [args]\nverbs: ${SOP_VERBS.join(', ')}\n`);
    return verb ? SOP_EXIT.ok : SOP_EXIT.missingArg;
  }
  const run = VERBS[verb];
  if (!run) {
    process.stderr.write(`sealgate sop: unsupported subcommand ${verb}\n`);
    return SOP_EXIT.unsupportedSubcommand;
  }
  try {
    return await run(rest, io);
  } catch (error) {
    process.stderr.write(`sealgate sop ${verb}: ${(error as Error).message}\n`);
    return error instanceof SopError ? error.exitCode : SOP_EXIT.fail;
  }
}
