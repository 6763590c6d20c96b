import { OtlpForwarderConfig } from '../config.js';
import { OtlpForwarder } from '../otlp-forwarder.js';
import { numberedRequest } from './forward-requests.js';
import { enrich } from './forwarder-harness.js';

/**
 * A process that forwards with a persistent queue to a destination that is down, for the kill -9 test:
 * `node persistent-queue-child.js <queue dir> <endpoint> <batches> <spans per batch>`. It forwards the
 * batches, prints `queued <stats>` once forward() has returned for all of them, and waits to be killed.
 */
const [directory, endpoint, batches, spans] = process.argv.slice(2);
if (directory === undefined || endpoint === undefined || batches === undefined || spans === undefined) {
  process.stderr.write('usage: persistent-queue-child <dir> <endpoint> <batches> <spans>\n');
  process.exit(2);
}
const forwarder = new OtlpForwarder(
  'child',
  OtlpForwarderConfig.parse({
    endpoint,
    queue: { directory, fsyncIntervalMs: 1000 },
    retry: { initialIntervalMs: 20, maxIntervalMs: 100 },
  }),
  { log: (line) => process.stderr.write(`${line}\n`) },
);
await forwarder.start();
for (let b = 0; b < Number(batches); b++) forwarder.forward(numberedRequest(b, Number(spans)), enrich);
process.stdout.write(`queued ${JSON.stringify(forwarder.stats)}\n`);
setInterval(() => undefined, 60_000);
