import './wasm-tier.js';
import type { ListFileEntry } from '@huggingface/hub';
import { compareText } from '../compare.js';
import { Response, Headers as WebHeaders, request, type Dispatcher } from 'undici';
import { MstingError } from '../errors.js';
import { certificateError, type TrustStore } from './trust.js';
import { isConnectFailure, isTransientNetworkError, TransientError } from './network-errors.js';
import { backoffDelay, parseRetryAfter } from './retry.js';
import { headerValue, normalizeEtag } from './headers.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TransferTuning } from './tuning.js';

/**
 * The model hub adapter: the three metadata calls msting makes against the Hugging Face Hub
 * (or a mirror at HF_ENDPOINT) and the one place its HTTP answers become msting errors.
 *
 * The revision and the file listing are asked through @huggingface/hub (`modelInfo`, `listFiles`),
 * given HF_ENDPOINT as `hubUrl` and `hubFetch` as its `fetch`: requests on the run's dispatcher
 * (proxies, NO_PROXY, the trusted certificates, the stall timeouts), retried on 429, 5xx and
 * dropped connections, the token added here and only for the hub's own origin, and an error answer
 * turned into a msting error from its status and X-Error-Code before the library sees it.
 * `resolveFile` stays a HEAD of msting's own: it must not follow the redirect to the storage host
 * (the library's fetch would, and would give back no Location), and the bodies are fetched by
 * msting's ranged downloader, which the library lacks.
 */

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** One file of a repository at a commit, as the tree API lists it. */
export interface RemoteFile {
  path: string;
  size: number;
  /** Cache blob name and expected digest: the LFS sha256, or the git blob sha1 for small files. */
  etag: string;
  algorithm: 'sha256' | 'git-sha1';
}

/** Where a file's bytes are, after following the hub's redirect by hand. */
export interface ResolvedFile {
  url: string;
  /** True only when `url` is on the hub's own origin: the token never goes anywhere else. */
  sendToken: boolean;
  size: number;
  etag: string;
  commit: string;
}

export interface HubClientOptions {
  endpoint: string;
  token: string | undefined;
  /** Where a token would have come from, for the hint of a 401. */
  tokenSource: string | undefined;
  dispatcher: Dispatcher;
  /** The certificates the dispatcher trusts beside Node's, for the hint of a certificate failure. */
  trust?: TrustStore;
  signal: AbortSignal;
  tuning: Pick<TransferTuning, 'retries' | 'retryBaseMs' | 'maxRetryAfterMs'>;
  onRetry?: (info: { url: string; attempt: number; delayMs: number; reason: string }) => void;
}

/** Which model a call was for, so every error names it. */
export interface ModelRef {
  name: string;
  repo: string;
  revision: string;
}

export function endpointFromEnv(env: NodeJS.ProcessEnv): string {
  const raw = env.HF_ENDPOINT?.trim() || DEFAULT_ENDPOINT;
  return raw.replace(/\/+$/, '');
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

type Headers = Record<string, string | string[] | undefined>;

type HubLibrary = typeof import('@huggingface/hub');
let hubLibrary: Promise<HubLibrary> | undefined;

/** @huggingface/hub, loaded at the first metadata call: commands that never ask the hub never load it. */
function loadHubLibrary(): Promise<HubLibrary> {
  return (hubLibrary ??= import('@huggingface/hub'));
}

/** The most pages a file listing may have (at 1,000 files a page): a mirror that never ends it is a fault. */
const MAX_LISTING_PAGES = 10_000;

export class HubClient {
  private readonly origin: string;
  private token: string | undefined;
  private tokenSource: string | undefined;

  constructor(private readonly options: HubClientOptions) {
    this.origin = new URL(options.endpoint).origin;
    this.token = options.token;
    this.tokenSource = options.tokenSource;
  }

  get hasToken(): boolean {
    return this.token !== undefined;
  }

  /** Use a token found later (Vault is asked only once the hub wants one). */
  setToken(token: string, source: string): void {
    this.token = token;
    this.tokenSource = source;
  }

  get endpoint(): string {
    return this.options.endpoint;
  }

  /** `GET /api/models/{repo}/revision/{rev}` → the 40-hex commit the revision points at. */
  async resolveRevision(model: ModelRef): Promise<string> {
    const { modelInfo } = await loadHubLibrary();
    const info = await this.answer(model, 'revision', () =>
      modelInfo({ name: model.repo, revision: model.revision, additionalFields: ['sha'], hubUrl: this.options.endpoint, fetch: this.hubFetch(model) }),
    );
    const sha: unknown = info.sha;
    if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) {
      throw new MstingError('HUB', `the hub answered for ${model.repo}@${model.revision} without a commit id`, {
        hint: `check that HF_ENDPOINT (${this.options.endpoint}) is a Hugging Face hub or mirror`,
      });
    }
    return sha;
  }

  /** Every file at a commit (`/api/models/{repo}/tree/{commit}?recursive=true`, following Link rel="next"). */
  async listFiles(model: ModelRef, commit: string): Promise<RemoteFile[]> {
    const { listFiles } = await loadHubLibrary();
    const entries = await this.answer(model, 'file listing', async () => {
      const listed: ListFileEntry[] = [];
      const pages = listFiles({ repo: { type: 'model', name: model.repo }, revision: commit, recursive: true, hubUrl: this.options.endpoint, fetch: this.hubFetch(model, MAX_LISTING_PAGES) });
      for await (const entry of pages) listed.push(entry);
      return listed;
    });
    const files: RemoteFile[] = [];
    for (const entry of entries) {
      const file = toRemoteFile(entry as TreeEntry);
      if (file) files.push(file);
    }
    return files.sort((a, b) => compareText(a.path, b.path));
  }

  /**
   * `HEAD /{repo}/resolve/{commit}/{path}` without following redirects: a redirect on the hub's
   * own origin (a renamed repository) is followed with the token; one to another origin (the
   * storage or CDN host, whose URL is signed) is returned, and the token is not sent there.
   */
  async resolveFile(model: ModelRef, commit: string, file: RemoteFile): Promise<ResolvedFile> {
    let url = `${this.options.endpoint}/${model.repo}/resolve/${commit}/${encodePath(file.path)}`;
    for (let hop = 0; hop < 5; hop++) {
      const res = await this.send('HEAD', url, model, { 'accept-encoding': 'identity' }, file.path);
      const repoCommit = headerValue(res.headers, 'x-repo-commit');
      const linkedEtag = normalizeEtag(headerValue(res.headers, 'x-linked-etag') ?? headerValue(res.headers, 'etag'));
      const linkedSize = headerValue(res.headers, 'x-linked-size') ?? (res.status === 200 ? headerValue(res.headers, 'content-length') : undefined);
      if (res.status >= 300 && res.status < 400) {
        const location = headerValue(res.headers, 'location');
        if (!location) throw new MstingError('HUB', `the hub redirected ${file.path} of ${model.repo} without a Location`, { hint: 'try again later' });
        const target = new URL(location, url);
        if (target.origin === this.origin && !repoCommit) {
          url = target.toString();
          continue;
        }
        this.checkMetadata(model, file, commit, repoCommit, linkedEtag, linkedSize);
        return { url: target.toString(), sendToken: target.origin === this.origin, size: file.size, etag: file.etag, commit };
      }
      this.checkMetadata(model, file, commit, repoCommit, linkedEtag, linkedSize);
      return { url, sendToken: true, size: file.size, etag: file.etag, commit };
    }
    throw new MstingError('HUB', `too many redirects resolving ${file.path} of ${model.repo}`, { hint: `check HF_ENDPOINT (${this.options.endpoint})` });
  }

  /** Headers for a request to `url`: the token only on the hub's own origin. */
  authHeaders(url: string): Record<string, string> {
    return this.token && new URL(url).origin === this.origin ? { authorization: `Bearer ${this.token}` } : {};
  }

  private checkMetadata(model: ModelRef, file: RemoteFile, commit: string, repoCommit: string | undefined, etag: string | undefined, size: string | undefined): void {
    if (!repoCommit) {
      throw new MstingError('HUB', `${this.options.endpoint} answered for ${file.path} without X-Repo-Commit: it does not look like a Hugging Face hub`, {
        hint: 'check HF_ENDPOINT and your firewall and proxy settings (HTTPS_PROXY, NO_PROXY)',
      });
    }
    if (repoCommit !== commit) {
      throw new MstingError('HUB', `the hub served ${file.path} of ${model.repo} from commit ${repoCommit}, not the pinned ${commit}`, {
        hint: 'the mirror may be out of date; try again later',
      });
    }
    if ((etag !== undefined && etag !== file.etag) || (size !== undefined && Number(size) !== file.size)) {
      throw new MstingError('HUB', `the hub's metadata for ${file.path} of ${model.repo} disagrees with its file listing`, {
        details: [`listing: ${file.etag} (${file.size} bytes)`, `resolve: ${etag ?? '?'} (${size ?? '?'} bytes)`],
        hint: 'try again later; if it repeats, report it to the hub or mirror operator',
      });
    }
  }

  /**
   * The `fetch` @huggingface/hub is given: each request goes through `send` (the dispatcher,
   * retries, the token on the hub's origin only, errors with their hints), and the whole body is
   * read there, so a connection dropped mid-body is retried too. The Link header is handed on
   * resolved and only when it stays on the hub's origin: the library follows only absolute links
   * and would follow one to any host. At most `maxRequests` requests per call.
   */
  private hubFetch(model: ModelRef, maxRequests = 10): typeof fetch {
    let requests = 0;
    const hubFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url, this.options.endpoint);
      if (++requests > maxRequests) throw new MstingError('HUB', `the hub's answers for ${model.repo} do not end (${maxRequests} requests)`, { hint: 'report this to the hub or mirror operator' });
      if (url.origin !== this.origin || (init?.method ?? 'GET') !== 'GET') {
        throw new MstingError('HUB', `msting would have sent ${init?.method ?? 'GET'} ${url.host}${url.pathname} for ${model.repo}: only GETs to the hub are expected`, { hint: 'report this as a bug in msting' });
      }
      const asked: Record<string, string> = {};
      new WebHeaders(init?.headers as ConstructorParameters<typeof WebHeaders>[0]).forEach((value, name) => {
        if (name !== 'authorization') asked[name] = value;
      });
      const res = await this.send('GET', url.toString(), model, { accept: 'application/json', ...asked });
      if (res.status >= 300) {
        throw new MstingError('HUB', `the hub answered ${url.pathname} for ${model.repo} with a redirect (HTTP ${res.status}) where it sends data`, {
          hint: `check HF_ENDPOINT (${this.options.endpoint}) and your proxy settings`,
        });
      }
      const headers: [string, string][] = [];
      for (const [name, value] of Object.entries(res.headers)) {
        if (name === 'link' || value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) headers.push([name, v]);
      }
      const next = nextLink(headerValue(res.headers, 'link'), url.toString(), this.origin);
      if (next) headers.push(['link', `<${next}>; rel="next"`]);
      return new Response(res.text, { status: res.status, headers });
    };
    // undici's Response is the one Node's own fetch returns; the DOM typings name it separately.
    return hubFetch as unknown as typeof fetch;
  }

  /** A call of the hub library; an answer it cannot read (not JSON, not a list) becomes a msting error. */
  private async answer<T>(model: ModelRef, what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof MstingError || this.options.signal.aborted) throw err;
      const reason = err instanceof SyntaxError ? 'something that is not JSON' : `an answer a Hugging Face hub does not give (${err instanceof Error ? err.message : String(err)})`;
      throw new MstingError('HUB', `the hub answered the ${what} request for ${model.repo} with ${reason}`, {
        hint: `check HF_ENDPOINT (${this.options.endpoint}) and your proxy settings`,
      });
    }
  }

  /** One metadata request with retries on 429, 5xx and dropped connections; other failures become errors. */
  private async send(method: 'GET' | 'HEAD', url: string, model: ModelRef, extra: Record<string, string>, path?: string): Promise<{ status: number; headers: Headers; text: string }> {
    const { retries, retryBaseMs, maxRetryAfterMs } = this.options.tuning;
    for (let attempt = 0; ; attempt++) {
      let delay: number;
      let reason: string;
      try {
        const res = await request(url, {
          method,
          headers: { 'user-agent': 'msting', ...extra, ...this.authHeaders(url) },
          dispatcher: this.options.dispatcher,
          signal: this.options.signal,
        });
        const text = method === 'HEAD' ? (await res.body.dump(), '') : await res.body.text();
        if (res.statusCode < 400) return { status: res.statusCode, headers: res.headers, text };
        const retryable = res.statusCode === 429 || res.statusCode === 408 || res.statusCode >= 500;
        const retryAfter = parseRetryAfter(res.headers['retry-after']);
        if (!retryable || attempt >= retries || (retryAfter !== undefined && retryAfter > maxRetryAfterMs)) {
          throw this.httpError(res.statusCode, res.headers, model, path, retryAfter);
        }
        delay = retryAfter ?? backoffDelay(attempt, retryBaseMs);
        reason = `HTTP ${res.statusCode}`;
      } catch (err) {
        if (err instanceof MstingError) throw err;
        if (this.options.signal.aborted) throw err;
        if (!isTransientNetworkError(err) && !(err instanceof TransientError)) throw this.networkError(err, url);
        if (attempt >= retries) throw this.networkError(err, url);
        delay = backoffDelay(attempt, retryBaseMs);
        reason = (err as Error).message;
      }
      this.options.onRetry?.({ url, attempt: attempt + 1, delayMs: delay, reason });
      await sleep(delay, undefined, { signal: this.options.signal });
    }
  }

  /** A TLS certificate failure talking to `url`'s host as one msting error; undefined for anything else. */
  certificateProblem(err: unknown, url: string): MstingError | undefined {
    return certificateError(err, new URL(url).host, this.options.trust);
  }

  /**
   * A storage host that cannot be reached while the hub can: a firewall or proxy that lets the
   * hub through but not the CDN its downloads are redirected to. Undefined for other failures.
   */
  storageProblem(err: unknown, url: string): MstingError | undefined {
    const tls = this.certificateProblem(err, url);
    if (tls || !isConnectFailure(err)) return tls;
    const host = new URL(url).host;
    const code = (err as { code?: string }).code;
    return new MstingError('HUB', `cannot reach ${host}, the storage host the hub sends this download to: ${code ?? (err as Error).message}`, {
      hint: `the hub (${new URL(this.options.endpoint).host}) answers but its storage host does not: allow ${host} (for huggingface.co: *.hf.co and cdn-lfs*.huggingface.co) through the firewall, or set HTTPS_PROXY`,
      cause: err,
    });
  }

  private networkError(err: unknown, url: string): MstingError {
    const tls = this.certificateProblem(err, url);
    if (tls) return tls;
    const code = (err as { code?: string }).code;
    const host = new URL(url).host;
    return new MstingError('HUB', `cannot reach ${host}: ${code ?? (err as Error).message}`, {
      hint: `check the network, HF_ENDPOINT and HTTPS_PROXY/NO_PROXY; hosts to allow: ${host} and the storage hosts it redirects to (*.hf.co, cdn-lfs*.huggingface.co); HF_HUB_OFFLINE=1 uses only what is downloaded`,
      cause: err,
    });
  }

  /** The hub's answer as one msting error: gated, unauthorized, missing and rate limited told apart. */
  httpError(status: number, headers: Headers, model: ModelRef, path?: string, retryAfterMs?: number): MstingError {
    return hubHttpError({ status, headers, model, path, retryAfterMs, tokenSent: Boolean(this.token), tokenSource: this.tokenSource, endpoint: this.options.endpoint });
  }
}

export interface HubHttpErrorInput {
  status: number;
  headers: Headers;
  model: ModelRef;
  path?: string | undefined;
  retryAfterMs?: number | undefined;
  tokenSent: boolean;
  tokenSource: string | undefined;
  endpoint: string;
}

const TOKEN_HINT = 'set HF_TOKEN, or store it in Vault with `msting vault-secret set huggingface`';

/** Pure: one hub HTTP answer → the message, hint and code a user sees. */
export function hubHttpError(input: HubHttpErrorInput): MstingError {
  const { status, headers, model } = input;
  const errorCode = headerValue(headers, 'x-error-code');
  const hubMessage = headerValue(headers, 'x-error-message');
  const requestId = headerValue(headers, 'x-request-id');
  const details = [
    ...(hubMessage ? [`hub: ${hubMessage}`] : []),
    ...(requestId ? [`request id: ${requestId}`] : []),
  ];
  const page = `https://huggingface.co/${model.repo}`;
  const who = `model ${model.name} (${model.repo})`;
  if (errorCode === 'GatedRepo') {
    if (!input.tokenSent) {
      return new MstingError('HUB_GATED', `${who} is gated: downloading it needs a Hugging Face token`, {
        details,
        hint: `accept its license on ${page}, create a token with the "read" scope (fine-grained: "Read access to contents of all public gated repos you can access"), then ${TOKEN_HINT}`,
      });
    }
    return new MstingError('HUB_GATED', `${who} is gated and this token has no access to it`, {
      details,
      hint: `accept its license on ${page} with the account that owns the token; the token needs the "read" scope (fine-grained tokens: "Read access to contents of all public gated repos you can access")`,
    });
  }
  if (errorCode === 'RepoNotFound' || (status === 404 && !errorCode)) {
    return new MstingError('HUB_NOT_FOUND', `${who} was not found on ${input.endpoint}`, {
      details,
      hint: input.tokenSent
        ? 'check llm.models[].repo in config.yml; a private repository also needs a token with access to it'
        : `check llm.models[].repo in config.yml; if the repository is private, ${TOKEN_HINT}`,
    });
  }
  if (errorCode === 'RevisionNotFound') {
    return new MstingError('HUB_NOT_FOUND', `revision "${model.revision}" of ${who} was not found`, {
      details,
      hint: 'check llm.models[].revision in config.yml: a branch, tag or 40-hex commit of that repository',
    });
  }
  if (errorCode === 'EntryNotFound') {
    return new MstingError('HUB_NOT_FOUND', `file ${input.path ?? '?'} of ${who} was not found at the pinned commit`, {
      details,
      hint: 'check llm.models[].files in config.yml',
    });
  }
  if (status === 401) {
    if (input.tokenSent) {
      return new MstingError('HUB_AUTH', `the hub rejected the Hugging Face token (401) for ${who}`, {
        details,
        hint: `the token${input.tokenSource ? ` from ${input.tokenSource}` : ''} is invalid, expired or revoked: create a new one with the "read" scope on https://huggingface.co/settings/tokens and ${TOKEN_HINT}`,
      });
    }
    return new MstingError('HUB_AUTH', `the hub needs authentication (401) for ${who}: it is private, gated, or does not exist`, {
      details,
      hint: `check llm.models[].repo; for a private or gated repository ${TOKEN_HINT}`,
    });
  }
  if (status === 403) {
    return new MstingError('HUB_AUTH', `the hub refused access (403) to ${who}`, {
      details,
      hint: `the token needs the "read" scope and access to ${page}`,
    });
  }
  if (status === 429) {
    const wait = input.retryAfterMs !== undefined ? `; it asks to wait ${Math.ceil(input.retryAfterMs / 1000)} s` : '';
    return new MstingError('HUB_RATE_LIMITED', `the hub is rate limiting requests for ${who} (429)${wait}`, {
      details,
      hint: `run the same command again later; it resumes where it stopped${input.tokenSent ? '' : `; signed-in requests get higher limits (${TOKEN_HINT})`}`,
    });
  }
  if (status === 416) {
    return new MstingError('HUB', `the hub refused the byte range asked for ${input.path ?? '?'} of ${who} (416)`, {
      details,
      hint: 'run the command again: the partial file was discarded',
    });
  }
  return new MstingError('HUB', `the hub answered HTTP ${status} for ${input.path ? `${input.path} of ` : ''}${who}`, {
    details,
    hint: status >= 500 ? 'the hub has trouble; try again later (the download resumes)' : `check HF_ENDPOINT (${input.endpoint})`,
  });
}

interface TreeEntry {
  type?: string;
  path?: string;
  size?: number;
  oid?: string;
  lfs?: { oid?: string; size?: number } | null;
}

function toRemoteFile(entry: TreeEntry): RemoteFile | undefined {
  if (entry.type !== 'file' || typeof entry.path !== 'string') return undefined;
  if (entry.path.split('/').some((s) => s === '..' || s === '.' || s === '') || entry.path.startsWith('/')) {
    throw new MstingError('HUB', `the hub listed an unsafe file path: ${JSON.stringify(entry.path)}`, { hint: 'report this to the hub or mirror operator' });
  }
  if (entry.lfs && typeof entry.lfs.oid === 'string') {
    return { path: entry.path, size: Number(entry.lfs.size ?? entry.size), etag: entry.lfs.oid, algorithm: 'sha256' };
  }
  if (typeof entry.oid !== 'string') return undefined;
  return { path: entry.path, size: Number(entry.size ?? 0), etag: entry.oid, algorithm: 'git-sha1' };
}

/** The `rel="next"` target of a Link header, only when it stays on the hub's origin. */
export function nextLink(link: string | undefined, base: string, origin: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part.trim());
    if (m) {
      const next = new URL(m[1]!, base);
      return next.origin === origin ? next.toString() : undefined;
    }
  }
  return undefined;
}
