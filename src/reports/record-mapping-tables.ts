import { createHash } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { CREATE_GENAI_SERVICES, CREATE_GENAI_TEAMS } from '../../exporters/duckdb/schema.js';
import type { MappingSource, MappingTables, ServiceRecord, TeamRecord } from '../../processors/attribution/mapping-tables.js';
import { queryRows } from './ledger-reader.js';
import { textLiteral, timestampLiteral } from './report-sql.js';

/** What {@link recordMappingTables} did with one table. */
export interface RecordedTable {
  /** `unchanged` (same content as the current version), `recorded` (a new version), `not_configured` (no file). */
  outcome: 'unchanged' | 'recorded' | 'not_configured';
  /** The version now current (null when the table was never recorded). */
  version: number | null;
}

export interface RecordedMappingTables {
  teams: RecordedTable;
  services: RecordedTable;
}

const lit = (v: string | null): string => (v === null ? 'NULL' : textLiteral(v));

/** Canonical content of the teams table: sorted rows of exactly the fields that matter (not line numbers). */
function teamsContent(teams: ReadonlyMap<string, TeamRecord>): string {
  const rows = [...teams.values()]
    .map((t) => [t.teamId, t.costCenter, t.owner, t.monthlyBudgetUsd, t.allocation ?? 'direct', Object.entries(t.extra).sort()])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  return JSON.stringify(rows);
}

function servicesContent(services: ReadonlyMap<string, ServiceRecord>): string {
  const rows = [...services.values()].map((s) => [s.service, s.teamId, s.projectId]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  return JSON.stringify(rows);
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

function teamValues(t: TeamRecord, version: number, validFrom: string, source: MappingSource | null, content: string): string {
  const extra = Object.entries(t.extra);
  const map = extra.length === 0 ? 'MAP {}' : `MAP {${extra.map(([k, v]) => `${textLiteral(k)}: ${textLiteral(v)}`).join(', ')}}`;
  return `(${lit(t.teamId)}, ${lit(t.costCenter)}, ${lit(t.owner)}, ${
    t.monthlyBudgetUsd === null ? 'NULL' : `CAST(${textLiteral(t.monthlyBudgetUsd)} AS DECIMAL(38,12))`
  }, ${lit(t.allocation ?? 'direct')}, CAST(${map} AS MAP(VARCHAR, VARCHAR)), ${version}, ${validFrom}, NULL, ${lit(source?.file ?? null)}, ${lit(
    source?.sha256 ?? null,
  )}, ${lit(content)})`;
}

function serviceValues(s: ServiceRecord, version: number, validFrom: string, source: MappingSource | null, content: string): string {
  return `(${lit(s.service)}, ${lit(s.teamId)}, ${lit(s.projectId)}, ${version}, ${validFrom}, NULL, ${lit(source?.file ?? null)}, ${lit(
    source?.sha256 ?? null,
  )}, ${lit(content)})`;
}

async function recordTable(
  connection: DuckDBConnection,
  table: 'genai_teams' | 'genai_services',
  content: string,
  loadedAt: Date,
  values: (version: number, validFrom: string, contentHash: string) => string[],
): Promise<RecordedTable> {
  const hash = sha256(content);
  const [current] = await queryRows(
    connection,
    `SELECT max("version") AS version, arg_max(content_sha256, "version") AS content_sha256, max(valid_from) AS valid_from FROM ${table}`,
  );
  const currentVersion = current?.['version'] === null || current?.['version'] === undefined ? null : Number(current['version']);
  if (currentVersion !== null && current?.['content_sha256'] === hash) return { outcome: 'unchanged', version: currentVersion };
  const version = (currentVersion ?? 0) + 1;
  // A clock that went backwards must not make a version start before the one it replaces.
  const previousFrom = current?.['valid_from'] === null || current?.['valid_from'] === undefined ? -Infinity : Date.parse(String(current['valid_from']));
  const fromMs = Math.max(loadedAt.getTime(), previousFrom);
  const validFrom = timestampLiteral(fromMs);
  const rows = values(version, validFrom, hash);
  const statements = [`UPDATE ${table} SET valid_to = ${validFrom} WHERE valid_to IS NULL`];
  for (let i = 0; i < rows.length; i += 500) statements.push(`INSERT INTO ${table} VALUES ${rows.slice(i, i + 500).join(',\n')}`);
  await connection.run('BEGIN TRANSACTION');
  try {
    for (const s of statements) await connection.run(s);
    await connection.run('COMMIT');
  } catch (err) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return { outcome: 'recorded', version };
}

/**
 * Writes the mapping tables into the ledger as versioned reference data: `genai_teams` and `genai_services` get
 * a new version (every row of the file, `valid_from` = `loadedAt`, the previous version closed with `valid_to`)
 * only when the content differs from the current version — reloading an unchanged file, or one whose changes are
 * only formatting, records nothing. A table that is not configured (null) is left as it is.
 *
 * Call it in the process that holds the ledger, on a connection of the exporter's DuckDB instance, at start and
 * after every successful reload. Each table is written in its own transaction.
 */
export async function recordMappingTables(connection: DuckDBConnection, tables: MappingTables, loadedAt: Date): Promise<RecordedMappingTables> {
  await connection.run(`${CREATE_GENAI_TEAMS};\n${CREATE_GENAI_SERVICES}`);
  const teams = tables.teams;
  const services = tables.services;
  const teamsSource = tables.sources?.teams ?? null;
  const servicesSource = tables.sources?.services ?? null;
  return {
    teams:
      teams === null
        ? { outcome: 'not_configured', version: null }
        : await recordTable(connection, 'genai_teams', teamsContent(teams), loadedAt, (version, validFrom, hash) =>
            [...teams.values()].map((t) => teamValues(t, version, validFrom, teamsSource, hash)),
          ),
    services:
      services === null
        ? { outcome: 'not_configured', version: null }
        : await recordTable(connection, 'genai_services', servicesContent(services), loadedAt, (version, validFrom, hash) =>
            [...services.values()].map((s) => serviceValues(s, version, validFrom, servicesSource, hash)),
          ),
  };
}
