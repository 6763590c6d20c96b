import { readFile } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { parseCsv } from '../../processors/attribution/csv.js';
import { MappingFileError, type MappingIssue } from '../../processors/attribution/mapping-tables.js';
import { PROVIDER_FAMILIES } from './bill-line.js';
import { inTransaction } from './ledger-writer.js';
import { RECONCILIATION_SETTING_DEFAULTS } from '../../exporters/duckdb/schema.js';

/**
 * `scopes.csv`: which team owns each provider scope, so a bill can be compared team by team
 * (docs/reconciliation.md, "Scopes and teams"). FinOps' format, like teams.csv:
 * ```
 * provider,scope_id,team_id,scope_type,note
 * openai,proj_search,search,openai_project,
 * anthropic,wrkspc_01SupportBot,support-bot,anthropic_workspace,
 * aws,arn:aws:iam::444455556666:role/search-api,search,aws_principal,
 * aws,team=search,search,aws_tag,from --scope-tag team
 * ```
 * `provider` is the bill's provider (openai, anthropic, aws, gcp, azure); `scope_id` as the bill names it
 * (matched case-insensitively); `team_id` as in teams.csv. A separate file rather than more columns in
 * teams.csv because one team owns many scopes (projects, workspaces, roles) and teams.csv is one row per team.
 */
export interface ScopeRecord {
  provider: string;
  scopeId: string;
  teamId: string;
  scopeType: string | null;
  note: string | null;
}

export function parseScopesCsv(text: string, file: string): ScopeRecord[] {
  const { records, issues: csvIssues } = parseCsv(text);
  const issues: MappingIssue[] = csvIssues.map((i) => ({ file, line: i.line, column: null, message: i.message }));
  const header = records[0];
  if (header === undefined) throw new MappingFileError([{ file, line: 1, column: null, message: 'file is empty: expected a header "provider,scope_id,team_id"' }]);
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const index = (name: string) => names.indexOf(name);
  for (const required of ['provider', 'scope_id', 'team_id']) {
    if (index(required) < 0) issues.push({ file, line: header.line, column: null, message: `missing required column "${required}" (header is: ${header.fields.join(', ')})` });
  }
  if (issues.length > 0) throw new MappingFileError(issues);
  const out: ScopeRecord[] = [];
  const seen = new Map<string, number>();
  for (const record of records.slice(1)) {
    const get = (name: string) => {
      const i = index(name);
      const v = i < 0 ? '' : (record.fields[i] ?? '').trim();
      return v === '' ? null : v;
    };
    const provider = get('provider')?.toLowerCase() ?? null;
    const scopeId = get('scope_id');
    const teamId = get('team_id');
    if (provider === null || !(PROVIDER_FAMILIES as readonly string[]).includes(provider)) {
      issues.push({ file, line: record.line, column: 'provider', message: `must be one of ${PROVIDER_FAMILIES.join(', ')}` });
      continue;
    }
    if (scopeId === null) issues.push({ file, line: record.line, column: 'scope_id', message: 'empty' });
    if (teamId === null) issues.push({ file, line: record.line, column: 'team_id', message: 'empty' });
    if (scopeId === null || teamId === null) continue;
    const key = `${provider}\u0000${scopeId.toLowerCase()}`;
    const first = seen.get(key);
    if (first !== undefined) {
      issues.push({ file, line: record.line, column: 'scope_id', message: `${provider} scope "${scopeId}" is already mapped on line ${first}` });
      continue;
    }
    seen.set(key, record.line);
    out.push({ provider, scopeId, teamId, scopeType: get('scope_type'), note: get('note') });
  }
  if (issues.length > 0) throw new MappingFileError(issues);
  return out;
}

/** Replaces the scope mapping in the ledger with the file's (one transaction). */
export async function replaceScopes(connection: DuckDBConnection, file: string): Promise<number> {
  const scopes = parseScopesCsv(await readFile(file, 'utf8'), file);
  await inTransaction(connection, async () => {
    await connection.run('DELETE FROM provider_scopes');
    for (const s of scopes) {
      await connection.run('INSERT INTO provider_scopes (provider, scope_id, team_id, scope_type, note) VALUES ($1, $2, $3, $4, $5)', [
        s.provider,
        s.scopeId,
        s.teamId,
        s.scopeType,
        s.note,
      ]);
    }
  });
  return scopes.length;
}

/** Sets the exception thresholds (null leaves a value as it is); returns the values in force. */
export async function setThresholds(
  connection: DuckDBConnection,
  values: { minGapUsd: string | null; minGapPct: string | null },
): Promise<Record<string, string>> {
  const updates: [string, string][] = [];
  if (values.minGapUsd !== null) {
    if (!/^\d+(\.\d{1,12})?$/.test(values.minGapUsd)) throw new RangeError(`--min-gap-usd must be a non-negative amount, got "${values.minGapUsd}"`);
    updates.push(['min_gap_usd', values.minGapUsd]);
  }
  if (values.minGapPct !== null) {
    if (!/^\d+(\.\d+)?$/.test(values.minGapPct) || Number(values.minGapPct) > 100) {
      throw new RangeError(`--min-gap-pct must be a percentage from 0 to 100, got "${values.minGapPct}"`);
    }
    updates.push(['min_gap_pct', values.minGapPct]);
  }
  await inTransaction(connection, async () => {
    for (const [key, value] of updates) await connection.run('INSERT OR REPLACE INTO reconciliation_settings VALUES ($1, $2)', [key, value]);
  });
  const rows = (await connection.runAndReadAll('SELECT "key", "value" FROM reconciliation_settings ORDER BY 1')).getRows();
  return { ...RECONCILIATION_SETTING_DEFAULTS, ...Object.fromEntries(rows.map((r) => [String(r[0]), String(r[1])])) };
}
