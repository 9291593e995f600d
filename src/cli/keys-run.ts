/**
 * `sealgate keys …`: our users' OpenPGP keys and S/MIME certificates, correspondents' keys, and
 * discovery by hand (issue 11). Private keys are sealed under the vault by the key store and
 * never printed; changes are audited with the admin as actor.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as openpgp from 'openpgp';
import type { Config } from '../config/index.ts';
import { detectKind, E2eKeyStore, keyDiscoveryFor, parseKeys, wkdLocation, type PeerKeyInfo, type UserKeyInfo } from '../e2e/index.ts';
import { adminActor } from './admin-actor.ts';
import type { CommandContext } from './command.ts';
import { CliError, EX, UsageError } from './exit.ts';
import { out, outJson } from './output.ts';
import { withRuntime, type CliRuntime } from './with-runtime.ts';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const isFingerprint = (s: string) => /^(0x)?[0-9a-f]{32,64}$/i.test(s);
const ADDRESS = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const fp = (s: string) => s.replace(/^0x/i, '').toLowerCase();

function keyStore(config: Config, rt: CliRuntime): E2eKeyStore {
  return new E2eKeyStore(rt.store, rt.vault, { discoveredTrustMs: config.e2e.discovery.trustDays * 24 * 3600 * 1000 });
}

function userJson(k: UserKeyInfo) {
  return { owner: 'user', kind: k.kind, address: k.address, fingerprint: k.fingerprint, created: iso(k.createdAt), expires: iso(k.expiresAt), revoked: iso(k.revokedAt) };
}

function peerJson(k: PeerKeyInfo) {
  return { owner: 'correspondent', kind: k.kind, address: k.address, fingerprint: k.fingerprint, source: k.source, state: k.state, created: iso(k.keyCreatedAt), expires: iso(k.expiresAt), firstSeen: iso(k.firstSeen), lastSeen: iso(k.lastSeen), trustedUntil: iso(k.trustedUntil) };
}

function line(k: ReturnType<typeof userJson> | ReturnType<typeof peerJson>): string {
  const extra = 'source' in k ? `  ${k.source}, ${k.state}${k.trustedUntil ? `, trusted until ${k.trustedUntil}` : ''}` : '  our user';
  return `${k.kind.padEnd(7)}  ${k.address}  ${k.fingerprint}${extra}${k.expires ? `  expires ${k.expires}` : ''}`;
}

function wkdFor(address: string) {
  const where = wkdLocation(address);
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  return { url: where.advanced, directUrl: where.direct, file: `.well-known/openpgpkey/${domain}/hu/${where.hash}`, host: `openpgpkey.${domain}`, hash: where.hash };
}

export async function generate(ctx: CommandContext): Promise<number> {
  const [address] = ctx.args;
  if (!ADDRESS.test(address)) throw new UsageError(`${address} is not an e-mail address`);
  const days = ctx.options['expires-days'] === undefined ? 0 : Number(ctx.options['expires-days']);
  if (!Number.isInteger(days) || days < 0) throw new UsageError('--expires-days takes a whole number of days (0: never)');
  return withRuntime(ctx.config, ctx.deps, async (rt) => {
    // v4 keys, EdDSA over Ed25519 and ECDH over X25519: what GnuPG 2.2/2.4 and every
    // deployed client read (RFC 9580 v6 keys are not yet understood by GnuPG).
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: (ctx.options.name as string | undefined) ?? '', email: address }], keyExpirationTime: days * 24 * 3600, format: 'binary' });
    const info = await keyStore(ctx.config, rt).addUserOpenPgpKey(privateKey, new Date(), address);
    await rt.audit.record({ actor: adminActor(), action: 'keys.generate', target: info.address, protocol: 'cli', detail: { kind: 'openpgp', fingerprint: info.fingerprint, expires: iso(info.expiresAt) } });
    const wkd = wkdFor(info.address);
    const dir = ctx.options['wkd-dir'] as string | undefined;
    if (dir) {
      const file = path.join(dir, wkd.file);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, publicKey);
      // The draft requires a policy file (empty is fine) beside hu/ for a directory to be used.
      writeFileSync(path.join(path.dirname(path.dirname(file)), 'policy'), '', { flag: 'a' });
    }
    if (ctx.json) {
      outJson({ ...userJson(info), wkd: { ...wkd, content: Buffer.from(publicKey).toString('base64'), writtenTo: dir ? path.join(dir, wkd.file) : null } });
      return EX.ok;
    }
    out(`generated an OpenPGP key (Ed25519/X25519) for ${info.address}`);
    out(`fingerprint: ${info.fingerprint.toUpperCase()}`);
    out(`publish it in the Web Key Directory: the binary public key, served as application/octet-stream, at`);
    out(`  ${wkd.url}`);
    out(`  (file ${wkd.file} under the web root of ${wkd.host}, with an empty .well-known/openpgpkey/${info.address.split('@')[1]}/policy)`);
    out(`  content: \`sealgate keys export ${info.address} --binary > ${wkd.hash}\`${dir ? `; written to ${path.join(dir, wkd.file)}` : ''}`);
    return EX.ok;
  });
}

/** PEM blocks of one type, as DER. */
function pemBlocks(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}

export async function importKeys(ctx: CommandContext): Promise<number> {
  const [file] = ctx.args;
  const data = readFileSync(file);
  const keyFile = ctx.options.key as string | undefined;
  const address = ctx.options.address as string | undefined;
  return withRuntime(ctx.config, ctx.deps, async (rt) => {
    const keys = keyStore(ctx.config, rt);
    const now = new Date();
    const results: (ReturnType<typeof userJson> | ReturnType<typeof peerJson>)[] = [];
    if (detectKind(data) === 'smime') {
      const text = data.toString('latin1');
      const certs = text.includes('-----BEGIN CERTIFICATE-----') ? pemBlocks(text, 'CERTIFICATE') : [data];
      if (keyFile) {
        // Our user's certificate with its private key: PKCS#8, PKCS#1 or SEC1 PEM, or DER.
        const raw = readFileSync(keyFile);
        const privateKey = raw.includes('-----BEGIN') ? createPrivateKey(raw) : createPrivateKey({ key: raw, format: 'der', type: 'pkcs8' });
        if (!new X509Certificate(certs[0]).checkPrivateKey(privateKey)) throw new CliError(EX.data, `${keyFile} is not the private key of the certificate in ${file}`);
        results.push(userJson(await keys.addUserSmimeKey(certs[0], privateKey.export({ type: 'pkcs8', format: 'der' }), certs.slice(1), now, address)));
      } else {
        results.push(...(await keys.addPeerKeys(certs[0], 'imported', now, address)).map(peerJson));
      }
    } else {
      let parsed: openpgp.Key[];
      try {
        parsed = data.toString('latin1').includes('-----BEGIN PGP') ? await openpgp.readKeys({ armoredKeys: data.toString('utf8') }) : await openpgp.readKeys({ binaryKeys: data });
      } catch (error) {
        throw new CliError(EX.data, `${file} holds no readable OpenPGP key (${(error as Error).message})`);
      }
      for (const key of parsed) {
        if (key.isPrivate()) results.push(userJson(await keys.addUserOpenPgpKey(key.write(), now, address)));
        else results.push(...(await keys.addPeerKeys(key.write(), 'imported', now, address)).map(peerJson));
      }
    }
    for (const r of results) await rt.audit.record({ actor: adminActor(), action: 'keys.import', target: r.address, protocol: 'cli', detail: { owner: r.owner, kind: r.kind, fingerprint: r.fingerprint } });
    if (ctx.json) outJson(results);
    else out(results.map((r) => `imported ${line(r)}`).join('\n'));
    return EX.ok;
  });
}

export async function exportKey(ctx: CommandContext): Promise<number> {
  const [which] = ctx.args;
  return withRuntime(ctx.config, ctx.deps, async (rt) => {
    const keys = keyStore(ctx.config, rt);
    let found: { kind: 'openpgp' | 'smime'; data: Uint8Array } | undefined;
    if (isFingerprint(which)) found = (await keys.userPublicKey(fp(which))) ?? (await keys.peerKeyData(fp(which)));
    else found = (await keys.bestKeyFor(which, 'openpgp', new Date())) ?? (await keys.bestKeyFor(which, 'smime', new Date()));
    if (!found) throw new CliError(EX.noInput, `no usable key for ${which} (sealgate keys list shows them)`);
    if (ctx.options.binary) {
      process.stdout.write(found.data);
      return EX.ok;
    }
    if (found.kind === 'openpgp') out((await openpgp.readKey({ binaryKey: found.data })).armor().trimEnd());
    else out(new X509Certificate(found.data).toString().trimEnd());
    return EX.ok;
  });
}

export async function list(ctx: CommandContext): Promise<number> {
  return withRuntime(ctx.config, ctx.deps, async (rt) => {
    const keys = keyStore(ctx.config, rt);
    const all = [...(await keys.listUserKeys(ctx.args[0])).map(userJson), ...(await keys.listPeerKeys(ctx.args[0])).map(peerJson)];
    if (ctx.json) outJson(all);
    else out(all.length ? all.map(line).join('\n') : 'no keys yet: sealgate keys generate ADDRESS, keys import FILE or keys discover ADDRESS');
    return EX.ok;
  });
}

export async function show(ctx: CommandContext): Promise<number> {
  const [which] = ctx.args;
  return withRuntime(ctx.config, ctx.deps, async (rt) => {
    const keys = keyStore(ctx.config, rt);
    const now = new Date();
    const matches = isFingerprint(which)
      ? [...(await keys.listUserKeys()).map(userJson), ...(await keys.listPeerKeys()).map(peerJson)].filter((k) => k.fingerprint === fp(which))
      : [...(await keys.listUserKeys(which)).map(userJson), ...(await keys.listPeerKeys(which)).map(peerJson)];
    if (!matches.length) throw new CliError(EX.noInput, `no key for ${which} (sealgate keys list shows them)`);
    const details = [];
    for (const m of matches) {
      const data = m.owner === 'user' ? await keys.userPublicKey(m.fingerprint) : await keys.peerKeyData(m.fingerprint);
      const [parsed] = data ? await parseKeys(data.data, now) : [];
      details.push({ ...m, userIds: parsed?.userIds ?? [], canEncrypt: parsed?.canEncrypt ?? false, canSign: parsed?.canSign ?? false, keyUsage: parsed?.keyUsage ?? [] });
    }
    const address = matches[0].address;
    const best = { openpgp: (await keys.bestKeyFor(address, 'openpgp', now))?.fingerprint ?? null, smime: (await keys.bestKeyFor(address, 'smime', now))?.fingerprint ?? null };
    const usability = await keys.usability(address, now);
    const autocrypt = await keys.autocryptRecommendation(address);
    if (ctx.json) {
      outJson({ address, keys: details.map((d) => ({ ...d, notUsedBecause: usability.find((u) => u.fingerprint === d.fingerprint && 'source' in d && u.source === d.source)?.reason ?? null })), used: best, autocrypt });
      return EX.ok;
    }
    for (const d of details) {
      out(line(d));
      out(`         ${d.userIds.join('; ')}; ${[d.canEncrypt && 'encrypts', d.canSign && 'signs'].filter(Boolean).join(', ') || 'neither encrypts nor signs now'}${d.keyUsage.length ? `; key usage ${d.keyUsage.join(', ')}` : ''}`);
      const reason = usability.find((u) => u.fingerprint === d.fingerprint && 'source' in d && u.source === d.source)?.reason;
      if (reason) out(`         not used: ${reason}`);
    }
    out(`used for ${address}: OpenPGP ${best.openpgp ?? 'none'}, S/MIME ${best.smime ?? 'none'}; Autocrypt recommends ${autocrypt}`);
    return EX.ok;
  });
}

export async function remove(ctx: CommandContext): Promise<number> {
  const [which] = ctx.args;
  if (!isFingerprint(which)) throw new UsageError('keys delete takes a FINGERPRINT (sealgate keys list shows them)');
  return withRuntime(ctx.config, ctx.deps, async (rt) => {
    const keys = keyStore(ctx.config, rt);
    const before = [...(await keys.listUserKeys()).map(userJson), ...(await keys.listPeerKeys()).map(peerJson)].filter((k) => k.fingerprint === fp(which));
    const removed = await keys.deleteKey(which);
    if (!removed) throw new CliError(EX.noInput, `no key ${which} (sealgate keys list shows them)`);
    await rt.audit.record({ actor: adminActor(), action: 'keys.delete', target: before[0]?.address ?? null, protocol: 'cli', detail: { fingerprint: fp(which), before: before.map((b) => ('source' in b ? `${b.owner}:${b.source}` : b.owner)), after: null } });
    out(`deleted ${removed} key record(s) with fingerprint ${fp(which)}`);
    return EX.ok;
  });
}

export async function discover(ctx: CommandContext): Promise<number> {
  const [address] = ctx.args;
  if (!ADDRESS.test(address)) throw new UsageError(`${address} is not an e-mail address`);
  const config = ctx.config;
  return withRuntime(config, ctx.deps, async (rt) => {
    const discovery = keyDiscoveryFor(config, rt.store, keyStore(config, rt));
    const report = await discovery.discover(address, new Date(), { fresh: ctx.options.fresh === true });
    if (ctx.json) outJson({ address: report.address, steps: report.steps.map((s) => ({ ...s, keys: s.keys.map(peerJson) })), found: report.found.map(peerJson) });
    else {
      if (!report.steps.length) out('no discovery source is configured (e2e.wkd.enabled is false and e2e.keyserver.url is unset)');
      for (const s of report.steps) out(`${s.source}: ${s.outcome}${s.fromCache ? ' (cached)' : ''}: ${s.detail}`);
      for (const k of report.found) out(`found ${line(peerJson(k))}`);
    }
    return report.found.length ? EX.ok : report.steps.some((s) => s.outcome === 'error') ? EX.tempFail : EX.noInput;
  });
}

