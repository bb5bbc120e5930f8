import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import type { EngineEndpoint } from './endpoint.js';

/**
 * A minimal Engine API client for the read-only calls on the hot path (ping, list, inspect).
 * `msting status` must answer about as fast as `docker compose ps`, and importing dockerode
 * (which loads its gRPC, protobuf and SSH dependencies) alone costs half a second; these calls
 * need nothing but one HTTP request on the socket. dockerode does the rest (events, logs,
 * start, stop, remove), loaded only by the commands that need it.
 */

export interface EngineResponse {
  status: number;
  body: unknown;
}

/** An error status from the engine, shaped like dockerode's so one translator handles both. */
export class EngineStatusError extends Error {
  readonly statusCode: number;
  readonly json: { message?: string } | null;
  constructor(statusCode: number, json: { message?: string } | null) {
    super(json?.message ?? `HTTP ${statusCode}`);
    this.statusCode = statusCode;
    this.json = json;
  }
}

/** Where to send an Engine API request: the socket, or the host and port with its TLS files. */
export function baseOptions(endpoint: EngineEndpoint): RequestOptions {
  if (endpoint.kind === 'unix') return { socketPath: endpoint.socketPath };
  if (endpoint.kind === 'tcp') {
    const opts: RequestOptions & { ca?: Buffer; cert?: Buffer; key?: Buffer } = { host: endpoint.host, port: endpoint.port };
    if (endpoint.tls) {
      opts.ca = readFileSync(endpoint.tls.ca);
      opts.cert = readFileSync(endpoint.tls.cert);
      opts.key = readFileSync(endpoint.tls.key);
    }
    return opts;
  }
  throw new Error('ssh endpoints are served by dockerode');
}

export function engineGet(endpoint: EngineEndpoint, path: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<EngineResponse> {
  return new Promise((resolve, reject) => {
    const opts: RequestOptions = { ...baseOptions(endpoint), method: 'GET', path, headers: { Host: 'docker' } };
    if (options.signal) opts.signal = options.signal;
    const send = endpoint.kind === 'tcp' && endpoint.tls ? httpsRequest : httpRequest;
    const req = send(opts, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        if ((res.headers['content-type'] ?? '').includes('json') && text !== '') {
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
        }
        const status = res.statusCode ?? 0;
        if (status >= 400) reject(new EngineStatusError(status, typeof body === 'object' && body !== null ? (body as { message?: string }) : { message: text.trim() }));
        else resolve({ status, body });
      });
    });
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(Object.assign(new Error('engine did not answer in time'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}
