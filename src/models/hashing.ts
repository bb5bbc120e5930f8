import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

/**
 * Digests the hub publishes: sha256 of the content for LFS files, and the git blob id
 * (sha1 of `blob <size>\0<content>`) for files stored in git.
 */
export type HashAlgorithm = 'sha256' | 'git-sha1';

export function newHash(algorithm: HashAlgorithm, size: number): Hash {
  if (algorithm === 'sha256') return createHash('sha256');
  const h = createHash('sha1');
  h.update(`blob ${size}\0`);
  return h;
}

/** Hash a whole file in one sequential pass. */
export async function hashFile(path: string, algorithm: HashAlgorithm, size: number, signal?: AbortSignal): Promise<string> {
  const h = newHash(algorithm, size);
  const handle = await open(path, 'r');
  try {
    await hashRange(handle, h, 0, Infinity, signal);
  } finally {
    await handle.close();
  }
  return h.digest('hex');
}

const READ_BLOCK = 1024 * 1024;

/**
 * Feed bytes [from, to) of an open file (to its end at most) into `hash`, through one reused
 * buffer: a fresh buffer per block (as a read stream makes) is garbage the size of the file,
 * which shows in the process's memory and in page faults.
 */
export async function hashRange(handle: FileHandle, hash: Hash, from: number, to: number, signal?: AbortSignal): Promise<number> {
  const buf = Buffer.allocUnsafe(READ_BLOCK);
  let pos = from;
  while (pos < to) {
    signal?.throwIfAborted();
    const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, to - pos), pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return pos;
}

/**
 * Hashes a file that a transfer is filling, following the contiguous prefix already written:
 * `advanceTo(n)` says bytes [0, n) are on disk. The reads and the digest run on a worker thread,
 * so hashing overlaps the transfer instead of adding a pass at the end, and takes nothing from
 * the thread that receives and writes.
 *
 * It runs at normal priority: since the receiving thread reads into one reused buffer per
 * connection it needs far less CPU, and a worker at nice 10 left a longer hash tail after the last
 * byte (2 GiB over plain HTTP on two cores: median 2.66 s at nice 10, 2.57 s at nice 0; no
 * difference over HTTPS).
 *
 * The worker reads the bytes back from the page cache rather than being handed the received
 * buffers: moving them to the worker saved no measurable time (bench/download), and the worker,
 * which allocates almost nothing itself, let tens of MiB of them wait for its garbage collector.
 */
export interface PrefixHasher {
  advanceTo(offset: number): void;
  /** Hash up to `size` and return the hex digest. */
  finish(size: number): Promise<string>;
  cancel(): Promise<void>;
}

// Plain JavaScript evaluated by the worker, so it works the same from built and source files.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const h = crypto.createHash(workerData.algorithm === 'sha256' ? 'sha256' : 'sha1');
if (workerData.algorithm === 'git-sha1') h.update('blob ' + workerData.size + '\\0');
const fd = fs.openSync(workerData.path, 'r');
const buf = Buffer.allocUnsafe(2 * 1024 * 1024);
let pos = 0;
function advance(to) {
  while (pos < to) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, to - pos), pos);
    if (n <= 0) throw new Error('short read at ' + pos);
    h.update(buf.subarray(0, n));
    pos += n;
  }
}
parentPort.on('message', (m) => {
  try {
    if (m.type === 'advance') advance(m.to);
    else if (m.type === 'finish') {
      advance(m.to);
      fs.closeSync(fd);
      parentPort.postMessage({ type: 'digest', hex: h.digest('hex') });
    }
  } catch (err) {
    parentPort.postMessage({ type: 'error', message: String(err && err.message || err) });
  }
});
`;

const ADVANCE_STEP = 4 * 1024 * 1024;

export function startPrefixHasher(path: string, algorithm: HashAlgorithm, size: number): PrefixHasher {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, algorithm, size } });
  let sent = 0;
  let failure: Error | undefined;
  const done = new Promise<string>((resolve, reject) => {
    worker.on('message', (m: { type: string; hex?: string; message?: string }) => {
      if (m.type === 'digest') resolve(m.hex!);
      else if (m.type === 'error') {
        failure = new Error(`hashing ${path}: ${m.message}`);
        reject(failure);
      }
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`hash worker exited (${code})`)));
  });
  done.catch(() => undefined);
  return {
    advanceTo(offset: number) {
      // Message in steps of a few MiB: the worker reads in big blocks anyway, and `finish`
      // covers the rest.
      if (offset >= sent + ADVANCE_STEP && !failure) {
        sent = offset;
        worker.postMessage({ type: 'advance', to: offset });
      }
    },
    async finish(total: number) {
      worker.postMessage({ type: 'finish', to: total });
      try {
        return await done;
      } finally {
        await worker.terminate();
      }
    },
    async cancel() {
      await worker.terminate();
    },
  };
}
