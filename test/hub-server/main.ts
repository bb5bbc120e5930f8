/**
 * The local hub as a process (for benchmarks): `node main.js spec.json` starts it with the repos
 * in spec.json ({repos, tokens?, port?, storagePort?}), prints `{"url","storageUrl"}` on one line,
 * then takes one JSON command per line on stdin and answers one line on stdout:
 *   {"cmd":"faults","set":{...}}  merge into the fault settings
 *   {"cmd":"stats"}               bytes served and request count
 *   {"cmd":"reset"}               zero the counters
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { startHub, type Faults, type HubOptions } from './server.js';

const spec = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as HubOptions;
const hub = await startHub(spec);
process.stdout.write(`${JSON.stringify({ url: hub.url, storageUrl: hub.storageUrl })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line) as { cmd: string; set?: Partial<Faults> };
  if (cmd.cmd === 'faults') Object.assign(hub.faults, cmd.set ?? {});
  if (cmd.cmd === 'reset') hub.resetStats();
  const storageRequests = hub.stats.requests.filter((r) => r.origin === 'storage');
  process.stdout.write(
    `${JSON.stringify({
      bytesServed: hub.stats.bytesServed,
      requests: hub.stats.requests.length,
      storageRequestsWithAuth: storageRequests.filter((r) => r.headers.authorization !== undefined).length,
    })}\n`,
  );
}
await hub.close();
