import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { MstingConfig, ModelConfig } from '../config/schema.js';
import { MstingError } from '../errors.js';
import { bootId } from './boot.js';
import { createBodyClient } from './body-client.js';
import { blobPath, incompletePath, lockPath, repoPaths, sidecarPath, type RepoPaths } from './cache-layout.js';
import { checkDiskSpace } from './disk.js';
import { selectPaths } from './glob.js';
import { hashFile } from './hashing.js';
import { DEFAULT_TUNING, type TransferTuning, tuningFromEnv } from './tuning.js';
import { createDispatcher } from './dispatcher.js';
import { HubClient, endpointFromEnv, type ModelRef, type RemoteFile } from './hub-client.js';
import { acquireLock } from './lock.js';
import { RateMeter, type ProgressListener, type ProgressState } from './progress.js';
import { selectModels } from './select.js';
import { linkSnapshotFile, writeRef } from './snapshot.js';
import { inspectFile, readModelState, stateFromListing, stateMatches, writeModelState, type ModelState, type StateFile } from './state.js';
import { isOffline, resolveToken, tokenFromEnv, type TokenProvider } from './token.js';
import { IntegrityMismatch, transferBlob } from './transfer.js';
import { lazySecureContext, loadTrustStore } from './trust.js';
import { verifyModels } from './verify.js';

export interface DownloadModelsOptions {
  config: MstingConfig;
  /** Models to fetch; empty or absent: the enabled ones. */
  names?: readonly string[];
  modelsDir: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  onProgress?: ProgressListener;
  /** A token source besides HF_TOKEN (the Vault secret `huggingface`). */
  tokenProvider?: TokenProvider;
  /** Overrides of the transfer knobs (tests, benchmarks); the env's MSTING_DOWNLOAD_* apply first. */
  tuning?: Partial<TransferTuning>;
}

export interface ModelDownload {
  name: string;
  repo: string;
  revision: string;
  commit: string;
  /** The directory to mount: snapshots/<commit>. */
  snapshot: string;
  files: number;
  size: number;
  /** Bytes received over the network in this run. */
  fetched: number;
  /** Bytes that were already there (cache hits and resumed partials). */
  reused: number;
  state: 'verified';
}

interface ModelRun {
  model: ModelConfig;
  ref: ModelRef;
  paths: RepoPaths;
  state: ModelState;
  have: number;
  total: number;
  fetched: number;
  meter: RateMeter;
  lastEmit: number;
  persist: Promise<void>;
}

const EMIT_EVERY_MS = 500;

/**
 * Fetch the selected models into the Hugging Face cache layout under `modelsDir`: pin each
 * revision to a commit (once; recorded in refs/ and msting's state file), check the disk, then
 * download what is missing, several files at once and large files in parallel ranges, verify every
 * file against the hub's digest and link it into the snapshot. Re-running resumes; with
 * HF_HUB_OFFLINE=1 nothing is fetched and what is there is verified.
 */
export async function downloadModels(options: DownloadModelsOptions): Promise<ModelDownload[]> {
  const { config, modelsDir, env, signal } = options;
  const emit: ProgressListener = options.onProgress ?? (() => undefined);
  const models = selectModels(config, options.names, 'enabled');
  if (models.length === 0) return [];

  if (isOffline(env)) return downloadOffline(options, models);

  const tuning: TransferTuning = { ...tuningFromEnv(env, DEFAULT_TUNING), ...options.tuning };
  // The environment's token is used from the start; Vault is asked only when the hub wants a token.
  const token = tokenFromEnv(env);
  let providerTried = false;
  const endpoint = endpointFromEnv(env);
  const trust = loadTrustStore(env);
  const dispatcher = createDispatcher(env, tuning.stallTimeoutMs, trust);
  const bodies = createBodyClient(env, tuning.stallTimeoutMs, lazySecureContext(env, trust), dispatcher);
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const client = new HubClient({
    endpoint,
    token: token?.token,
    tokenSource: token?.source,
    dispatcher,
    trust,
    signal: stop.signal,
    tuning,
    onRetry: (info) => emit(event('', null, 0, 0, 0, 'retrying', `${info.reason}; retrying in ${Math.ceil(info.delayMs / 1000)} s`)),
  });

  try {
    const runs: ModelRun[] = [];
    for (const model of models) {
      const ref: ModelRef = { name: model.name, repo: model.repo, revision: model.revision };
      emit(event(model.name, null, 0, 0, 0, 'resolving'));
      let state: ModelState;
      try {
        state = await pinModel(client, modelsDir, model, endpoint);
      } catch (err) {
        const wantsToken = err instanceof MstingError && ['HUB_GATED', 'HUB_AUTH', 'HUB_NOT_FOUND'].includes(err.code);
        if (!wantsToken || client.hasToken || !options.tokenProvider || providerTried) throw err;
        providerTried = true;
        const fromProvider = await resolveToken({}, options.tokenProvider);
        if (!fromProvider.token) {
          if (fromProvider.providerProblem) err.details.push(`no Hugging Face token from Vault: ${fromProvider.providerProblem}`);
          throw err;
        }
        client.setToken(fromProvider.token, fromProvider.source ?? 'Vault');
        state = await pinModel(client, modelsDir, model, endpoint);
      }
      const paths = repoPaths(modelsDir, model.repo);
      await writeRef(paths, model.revision, state.commit);
      runs.push({ model, ref, paths, state, have: 0, total: state.files.reduce((a, f) => a + f.size, 0), fetched: 0, meter: new RateMeter(), lastEmit: 0, persist: Promise.resolve() });
    }

    // Before any byte: what is still missing must fit, with a margin.
    let missing = 0;
    for (const run of runs) {
      for (const f of run.state.files) {
        const insp = await inspectFile(run.paths, run.state.commit, f);
        run.have += insp.have;
        if (insp.state === 'missing' || insp.state === 'partial') missing += f.size - insp.have;
      }
    }
    await checkDiskSpace(modelsDir, missing);

    const jobs = runs.flatMap((run) => run.state.files.map((file) => ({ run, file })));
    let next = 0;
    const workers = Array.from({ length: Math.max(1, Math.min(tuning.concurrentFiles, jobs.length)) }, async () => {
      while (next < jobs.length && !stop.signal.aborted) {
        const job = jobs[next++]!;
        try {
          await fetchFile(job.run, job.file);
        } catch (err) {
          stop.abort(err);
          throw err;
        }
      }
    });
    const settled = await Promise.allSettled(workers);
    for (const run of runs) await run.persist;
    signal.throwIfAborted();
    const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as unknown);
    if (failures.length > 0) throw failures.find((f) => f instanceof MstingError) ?? failures[0];

    return runs.map((run) => {
      emit(event(run.model.name, null, run.total, run.total, 0, 'done'));
      return {
        name: run.model.name,
        repo: run.model.repo,
        revision: run.model.revision,
        commit: run.state.commit,
        snapshot: join(run.paths.snapshots, run.state.commit),
        files: run.state.files.length,
        size: run.total,
        fetched: run.fetched,
        reused: run.total - run.fetched,
        state: 'verified' as const,
      };
    });
  } finally {
    signal.removeEventListener('abort', onAbort);
    await bodies.close();
    await dispatcher.close().catch(() => undefined);
  }

  function event(model: string, file: string | null, bytes: number, total: number, rate: number, state: ProgressState, message?: string) {
    return { model, file, bytes, total, rate, state, at: new Date().toISOString(), ...(message ? { message } : {}) };
  }

  function modelEvent(run: ModelRun, state: ProgressState, force: boolean): void {
    const now = Date.now();
    if (!force && now - run.lastEmit < EMIT_EVERY_MS) return;
    run.lastEmit = now;
    emit(event(run.model.name, null, run.have, run.total, run.meter.rate(now), state));
  }

  async function markVerified(run: ModelRun, file: StateFile): Promise<void> {
    const s = await stat(blobPath(run.paths, file.etag));
    file.verifiedAt = new Date().toISOString();
    file.mtimeMs = s.mtimeMs;
    file.verifiedBoot = bootId();
    run.persist = run.persist.then(() => writeModelState(modelsDir, run.state));
    await run.persist;
  }

  async function fetchFile(run: ModelRun, file: StateFile): Promise<void> {
    const name = run.model.name;
    const first = await inspectFile(run.paths, run.state.commit, file);
    if (first.state === 'verified') {
      if (!first.linked) await linkSnapshotFile(run.paths, run.state.commit, file.path, file.etag);
      emit(event(name, file.path, file.size, file.size, 0, 'cached'));
      return;
    }
    const lock = await acquireLock(lockPath(run.paths, file.etag), {
      signal: stop.signal,
      onWait: (holder) => emit(event(name, file.path, 0, file.size, 0, 'waiting', `another msting (pid ${holder.pid} on ${holder.host}) is writing this file; waiting`)),
    });
    try {
      const insp = await inspectFile(run.paths, run.state.commit, file);
      if (insp.state === 'verified' || insp.state === 'complete') {
        if (insp.state === 'complete') {
          emit(event(name, file.path, file.size, file.size, 0, 'checking'));
          const digest = await hashFile(blobPath(run.paths, file.etag), file.algorithm, file.size, stop.signal);
          if (digest === file.etag) await markVerified(run, file);
          else {
            emit(event(name, file.path, 0, file.size, 0, 'corrupt', `the cached copy does not match ${file.algorithm} ${file.etag}; fetching it again`));
            await rm(blobPath(run.paths, file.etag), { force: true });
            run.have -= file.size;
          }
        }
        if (file.verifiedAt !== null) {
          await linkSnapshotFile(run.paths, run.state.commit, file.path, file.etag);
          emit(event(name, file.path, file.size, file.size, 0, 'cached'));
          return;
        }
      }
      await download(run, file, insp.state === 'partial' ? insp.have : 0);
      await markVerified(run, file);
      await linkSnapshotFile(run.paths, run.state.commit, file.path, file.etag);
      emit(event(name, file.path, file.size, file.size, 0, 'verified'));
      modelEvent(run, 'downloading', true);
    } finally {
      await lock.release();
    }
  }

  async function download(run: ModelRun, file: StateFile, counted: number): Promise<void> {
    const name = run.model.name;
    const remote: RemoteFile = { path: file.path, size: file.size, etag: file.etag, algorithm: file.algorithm };
    let fileBytes = counted;
    let lastFileEmit = 0;
    for (let attempt = 0; ; attempt++) {
      const resolved = await client.resolveFile(run.ref, run.state.commit, remote);
      try {
        emit(event(name, file.path, fileBytes, file.size, 0, 'downloading'));
        await transferBlob({
          label: file.path,
          url: resolved.url,
          headers: client.authHeaders(resolved.url),
          size: file.size,
          algorithm: file.algorithm,
          expected: file.etag,
          incomplete: incompletePath(run.paths, file.etag),
          sidecar: sidecarPath(run.paths, file.etag),
          dest: blobPath(run.paths, file.etag),
          client: bodies,
          signal: stop.signal,
          tuning,
          onStart: (have) => {
            run.have += have - fileBytes;
            fileBytes = have;
          },
          onBytes: (n) => {
            fileBytes += n;
            run.have += n;
            run.fetched += n;
            run.meter.add(n);
            const now = Date.now();
            if (now - lastFileEmit >= EMIT_EVERY_MS) {
              lastFileEmit = now;
              emit(event(name, file.path, fileBytes, file.size, run.meter.rate(now), 'downloading'));
            }
            modelEvent(run, 'downloading', false);
          },
          onRetry: (info) =>
            emit(event(name, file.path, fileBytes, file.size, 0, 'retrying', `${info.stalled ? 'stalled' : info.reason} at bytes ${info.range}; attempt ${info.attempt} in ${(info.delayMs / 1000).toFixed(1)} s`)),
          onRestart: (reason) => {
            run.have -= fileBytes;
            fileBytes = 0;
            emit(event(name, file.path, 0, file.size, 0, 'restarting', reason));
          },
          httpError: (status, headers) => client.httpError(status, headers, run.ref, file.path),
          networkError: (err) => client.storageProblem(err, resolved.url),
        });
        return;
      } catch (err) {
        if (!(err instanceof IntegrityMismatch)) throw err;
        run.have -= fileBytes;
        fileBytes = 0;
        if (attempt >= 1) {
          throw new MstingError('INTEGRITY', `${file.path} of model ${name} (${run.model.repo}) failed verification twice and was deleted`, {
            details: [`expected ${file.algorithm} ${err.expected}`, `got      ${err.actual}`],
            hint: 'the data is corrupted on the way (proxy, mirror or storage); try again later or from another network',
          });
        }
        emit(event(name, file.path, 0, file.size, 0, 'restarting', `${file.algorithm} mismatch (got ${err.actual}); deleted and fetching again`));
      }
    }
  }
}

/** Resolve the revision once and record the pin; a recorded pin that still matches config is reused as-is. */
async function pinModel(client: HubClient, modelsDir: string, model: ModelConfig, endpoint: string): Promise<ModelState> {
  const recorded = await readModelState(modelsDir, model.name);
  if (recorded && stateMatches(recorded, model)) return recorded;
  const ref: ModelRef = { name: model.name, repo: model.repo, revision: model.revision };
  const commit = await client.resolveRevision(ref);
  const files = selectPaths(await client.listFiles(ref, commit), model.files, model.exclude);
  if (files.length === 0) {
    throw new MstingError('CONFIG_INVALID', `no file of ${model.repo} at ${model.revision} (${commit.slice(0, 12)}) matches the patterns of model ${model.name}`, {
      details: [`files: ${JSON.stringify(model.files)}`, `exclude: ${JSON.stringify(model.exclude)}`],
      hint: 'fix llm.models[].files / exclude in config.yml',
    });
  }
  const state = stateFromListing(model, commit, files, endpoint, recorded);
  await writeModelState(modelsDir, state);
  return state;
}

/** HF_HUB_OFFLINE: nothing is fetched; what is there is verified and linked, and anything missing fails the run. */
async function downloadOffline(options: DownloadModelsOptions, models: ModelConfig[]): Promise<ModelDownload[]> {
  const results = await verifyModels({
    config: options.config,
    names: models.map((m) => m.name),
    modelsDir: options.modelsDir,
    signal: options.signal,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const incomplete = results.filter((r) => !r.ok);
  if (incomplete.length > 0) {
    throw new MstingError('FAILURE', `HF_HUB_OFFLINE is set and ${incomplete.map((r) => r.name).join(', ')} ${incomplete.length === 1 ? 'is' : 'are'} not complete on disk`, {
      details: incomplete.flatMap((r) =>
        r.commit === null
          ? [`${r.name}: never downloaded into ${options.modelsDir}`]
          : r.files.filter((f) => f.state !== 'verified').map((f) => `${r.name}: ${f.path} is ${f.state}`),
      ),
      hint: 'unset HF_HUB_OFFLINE on a machine with access to the hub, or copy the model cache (models--ORG--NAME) into STING_MODELS_DIR',
    });
  }
  return results.map((r) => ({
    name: r.name,
    repo: r.repo,
    revision: r.revision,
    commit: r.commit!,
    snapshot: r.snapshot!,
    files: r.files.length,
    size: r.size,
    fetched: 0,
    reused: r.size,
    state: 'verified' as const,
  }));
}
