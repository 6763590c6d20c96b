// Writes the bearer token the genai-ledger stack shares (docker-compose.yml, service token-init): genai-ledger
// accepts it on OTLP and /metrics, Prometheus and the Datadog Agent send it when scraping, the demo sends it.
//   node init-token.mjs FILE
// GENAI_LEDGER_TOKEN set: that token is written (at least 16 characters, no spaces). Unset: the token already in
// FILE is kept, or a random one is generated on first start. Mode 0644: the file lives in a volume that only
// the stack's containers mount, and they run as different users (node, nobody, dd-agent).
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node init-token.mjs FILE');
  process.exit(2);
}
const given = (process.env.GENAI_LEDGER_TOKEN ?? '').trim();
if (given !== '') {
  if (given.length < 16 || /\s/.test(given)) {
    console.error('token-init: GENAI_LEDGER_TOKEN must be one token of at least 16 characters without spaces');
    process.exit(1);
  }
  write(given);
  console.log(`token-init: ${file} holds GENAI_LEDGER_TOKEN`);
} else if (existsSync(file) && readFileSync(file, 'utf8').trim() !== '') {
  console.log(`token-init: keeping the token in ${file}`);
} else {
  write(randomBytes(24).toString('hex'));
  console.log(`token-init: generated a token into ${file} (read it with: docker compose run --rm --no-deps --entrypoint cat genai-ledger ${file})`);
}

function write(token) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${token}\n`);
  chmodSync(tmp, 0o644); // whatever the umask
  renameSync(tmp, file); // atomic: a reader never sees half a token
}
