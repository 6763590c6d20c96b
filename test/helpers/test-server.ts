import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LedgerConfig } from '../../src/config/ledger-config.js';
import { LedgerServer } from '../../src/server/ledger-server.js';

export const TEAMS_CSV = `team_id,cost_center,owner,monthly_budget_usd
search,CC-1001,alice@example.com,5000
support-bot,CC-1002,bob@example.com,12000
growth,CC-1003,carol@example.com,3000
`;
export const SERVICES_CSV = `service,team_id,project_id
checkout-assistant,growth,checkout
support-bot,support-bot,tickets
orphan-service,ghost-team,
`.replace('orphan-service,ghost-team,\n', '');

export interface TestServer {
  server: LedgerServer;
  dir: string;
  dbPath: string;
  httpUrl: string;
  grpcUrl: string;
  /** Shuts the server down (commits and closes the ledger) and removes the temp dir. */
  close(): Promise<void>;
}

/** A real server on port 0 with a real DuckDB file in a fresh temp dir and the mapping tables above. */
export async function startTestServer(overrides: Record<string, unknown> = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-test-'));
  const teamsFile = join(dir, 'teams.csv');
  const servicesFile = join(dir, 'services.csv');
  await writeFile(teamsFile, TEAMS_CSV);
  await writeFile(servicesFile, SERVICES_CSV);
  const dbPath = join(dir, 'ledger.duckdb');
  const config = LedgerConfig.parse(
    deepMerge(
      {
        receivers: { otlp: { http: { port: 0 }, grpc: { port: 0 } } },
        attribution: { teamsFile, servicesFile },
        exporters: { duckdb: { path: dbPath }, prometheus: { port: 0 } },
        sql: { port: 0 },
      },
      overrides,
    ),
  );
  const server = await LedgerServer.create(config);
  await server.start();
  const http = server.listeners.find((l) => l.name === 'otlp/http');
  const grpc = server.listeners.find((l) => l.name === 'otlp/grpc');
  let closed = false;
  return {
    server,
    dir,
    dbPath,
    httpUrl: http ? `http://127.0.0.1:${http.port}` : '',
    grpcUrl: grpc ? `http://127.0.0.1:${grpc.port}` : '',
    async close() {
      if (closed) return;
      closed = true;
      await server.shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const b = out[k];
    out[k] =
      isPlainObject(b) && isPlainObject(v) ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

function isPlainObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
