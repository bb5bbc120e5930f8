import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Context } from '../context.js';
import { MstingError } from '../errors.js';
import { DecryptStream } from '../backup/crypto-format.js';
import { fsyncFile, syncDir } from '../backup/fs.js';
import { archiveKind } from '../backup/read.js';
import { formatBytes } from '../bytes.js';
import { loadBackupSetup, readKeySources } from '../backup/key-sources.js';
import { ByteProgress } from '../ui/byte-progress.js';
import { promptHidden } from '../ui/hidden-prompt.js';

export interface BackupDecryptOptions {
  file: string;
  out: string;
  passphraseFile?: string | undefined;
  keyFile?: string | undefined;
}

/** Write the plain tar of an encrypted archive: to a temporary file, renamed only after the final chunk authenticates. */
export async function run(options: BackupDecryptOptions, ctx: Context): Promise<number> {
  const { layout } = await loadBackupSetup(ctx);
  const file = resolve(options.file);
  const out = resolve(options.out);
  if ((await archiveKind(file)) !== 'encrypted') {
    throw new MstingError('USAGE', `${file} is not encrypted`, { hint: 'a plain archive is a tar file already: tar tf FILE lists it' });
  }
  const exists = await access(out).then(() => true, () => false);
  if (exists && !ctx.yes) throw new MstingError('USAGE', `${out} already exists`, { hint: 'choose another -o path, or add --yes to replace it' });
  const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.partial`);
  await (await open(tmp, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new MstingError('IO', `cannot write ${out}: ${err.code ?? err.message}`, { hint: 'choose a writable path with -o', cause: err });
  })).close();
  const progress = new ByteProgress(ctx.out, 'decrypt');
  progress.stage('decrypting', { stage: 'decrypt', file });
  const decrypt = new DecryptStream(readKeySources(ctx.env, layout, options, promptHidden(ctx)));
  try {
    await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), decrypt, createWriteStream(tmp, { flags: 'r+' }), { signal: ctx.signal });
    await fsyncFile(tmp);
    await rename(tmp, out);
    await syncDir(dirname(out));
  } catch (err) {
    await rm(tmp, { force: true });
    if (ctx.signal.aborted) throw new MstingError('INTERRUPTED', 'decryption interrupted; nothing was written', { hint: 'run the command again' });
    throw err;
  } finally {
    progress.done();
  }
  if (ctx.out.json) ctx.out.event({ event: 'result', file, out, bytes: decrypt.plainBytes });
  else {
    ctx.out.success(`decrypted ${file} → ${out} (${formatBytes(decrypt.plainBytes)}, every chunk authenticated)`);
    ctx.out.print(out);
  }
  return 0;
}
