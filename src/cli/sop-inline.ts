/**
 * `sealgate sop inline-sign | inline-verify | inline-detach` (draft-dkg-openpgp-stateless-cli,
 * "inline-sign", "inline-verify", "inline-detach"): messages that carry their signature inside,
 * as OpenPGP packets (`--as=binary|text`) or in the Cleartext Signature Framework
 * (`--as=clearsigned`, RFC 9580 §7), over OpenPGP.js.
 */
import { existsSync, writeFileSync } from 'node:fs';
import * as openpgp from 'openpgp';
import { OPENPGP_SIGNING_CONFIG as SIGNING_CONFIG, openpgpCheckSignatures as checkSignatures, readOpenpgpMessage as readMessage } from '../e2e/index.ts';
import { certsOf, dateOption, keysOf, parse, SOP_EXIT, SopError, stdin, verificationLines, withinWindow, type Verb } from './sop-io.ts';

const CLEARSIGNED = '-----BEGIN PGP SIGNED MESSAGE-----';

function isClearsigned(data: Buffer): boolean {
  return data.toString('latin1', 0, 256).trimStart().startsWith(CLEARSIGNED);
}

function refuseExisting(path: string | undefined): void {
  if (path && existsSync(path)) throw new SopError(SOP_EXIT.outputExists, `${path} already exists`);
}

/** An inline-signed message, either framing; anything else (an encrypted message, a key) is bad data. */
async function readSigned(data: Buffer): Promise<openpgp.CleartextMessage | openpgp.Message<Uint8Array>> {
  if (isClearsigned(data)) {
    return openpgp.readCleartextMessage({ cleartextMessage: data.toString('utf8') }).catch(() => { throw new SopError(SOP_EXIT.badData, 'stdin is not a readable cleartext-signed message'); });
  }
  const message = await readMessage(data).catch(() => { throw new SopError(SOP_EXIT.badData, 'stdin is not an OpenPGP message'); });
  if (message.getEncryptionKeyIDs().length || !message.packets.findPacket(openpgp.enums.packet.literalData)) throw new SopError(SOP_EXIT.badData, 'stdin is not an inline-signed message (encrypted, or no literal data)');
  return message;
}

export const INLINE_VERBS: Record<string, Verb> = {
  async 'inline-sign'(argv, io) {
    const p = parse(argv, { armor: 'flag', 'no-armor': 'flag', as: 'value', 'micalg-out': 'value', 'with-key-password': 'value' });
    if (!p.args.length) throw new SopError(SOP_EXIT.missingArg, 'inline-sign needs KEYS');
    const as = p.flags.get('as')?.[0] ?? 'binary';
    if (!['binary', 'text', 'clearsigned'].includes(as)) throw new SopError(SOP_EXIT.unsupportedOption, `--as=${as} is not binary, text or clearsigned`);
    const armor = !p.flags.has('no-armor');
    if (as === 'clearsigned' && !armor) throw new SopError(SOP_EXIT.incompatibleOptions, '--as=clearsigned is always armored; --no-armor cannot go with it');
    const data = await stdin();
    const signingKeys = await keysOf(p.args);
    const date = new Date();
    if (as === 'clearsigned') {
      // The line break before the armored signature belongs to the framework (RFC 9580 §7.2), so a
      // final newline is not signed, as gpg --clearsign and sqop do it: their inline-detach gives the input back.
      const message = await openpgp.createCleartextMessage({ text: data.toString('utf8').replace(/\r?\n$/, '') });
      io.write(await openpgp.sign({ message, signingKeys, date, config: SIGNING_CONFIG }));
      return SOP_EXIT.ok;
    }
    const message = as === 'text' ? await openpgp.createMessage({ text: data.toString('utf8') }) : await openpgp.createMessage({ binary: data });
    io.write(armor ? await openpgp.sign({ message, signingKeys, date, config: SIGNING_CONFIG, format: 'armored' }) : await openpgp.sign({ message, signingKeys, date, config: SIGNING_CONFIG, format: 'binary' }));
    return SOP_EXIT.ok;
  },

  async 'inline-verify'(argv, io) {
    const p = parse(argv, { 'not-before': 'value', 'not-after': 'value', 'verifications-out': 'value' });
    if (!p.args.length) throw new SopError(SOP_EXIT.missingArg, 'inline-verify needs CERTS');
    const out = p.flags.get('verifications-out')?.[0];
    refuseExisting(out);
    const now = new Date();
    const notBefore = dateOption(p, 'not-before', null, now);
    const notAfter = dateOption(p, 'not-after', now, now);
    const certs = await certsOf(p.args);
    const message = await readSigned(await stdin());
    const result = message instanceof openpgp.CleartextMessage
      ? await openpgp.verify({ message, verificationKeys: certs, date: now })
      : await openpgp.verify({ message, verificationKeys: certs, date: now, format: 'binary' });
    const lines = verificationLines(withinWindow(await checkSignatures(result.signatures, certs), notBefore, notAfter));
    // The draft: no data on stdout unless at least one signature is good.
    if (!lines) throw new SopError(SOP_EXIT.noSignature, 'no acceptable signature');
    if (out) writeFileSync(out, lines, { flag: 'wx' });
    io.write(typeof result.data === 'string' ? result.data : Buffer.from(result.data as Uint8Array));
    return SOP_EXIT.ok;
  },

  async 'inline-detach'(argv, io) {
    const p = parse(argv, { armor: 'flag', 'no-armor': 'flag', 'signatures-out': 'value' });
    const out = p.flags.get('signatures-out')?.[0];
    if (!out) throw new SopError(SOP_EXIT.missingArg, 'inline-detach needs --signatures-out=SIGNATURES');
    refuseExisting(out);
    const message = await readSigned(await stdin());
    // Reading the message through verify (with no certificates) is how OpenPGP.js hands out the
    // signatures of a one-pass-signed message: they follow the literal data in its stream.
    const result = message instanceof openpgp.CleartextMessage
      ? await openpgp.verify({ message, verificationKeys: [], expectSigned: false })
      : await openpgp.verify({ message, verificationKeys: [], format: 'binary' });
    const packets = new openpgp.PacketList<openpgp.SignaturePacket>();
    for (const entry of result.signatures) {
      entry.verified.catch(() => undefined); // "no key" by design; keep the rejection handled
      packets.push(...(await entry.signature).packets);
    }
    const signature = new openpgp.Signature(packets);
    const data = result.data as Uint8Array | string;
    if (!signature.packets.length) throw new SopError(SOP_EXIT.badData, 'the message carries no signature');
    writeFileSync(out, p.flags.has('no-armor') ? signature.write() : signature.armor(), { flag: 'wx' });
    io.write(typeof data === 'string' ? data : Buffer.from(data));
    return SOP_EXIT.ok;
  },
};
