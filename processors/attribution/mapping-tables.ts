import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseCsv } from './csv.js';

/**
 * The FinOps-owned lookup tables, loaded from CSV (their spreadsheet format):
 *
 * teams CSV — `team_id,cost_center` required, `owner`, `monthly_budget_usd`, `allocation` optional, any other
 * column kept as an extra string (`allocation` is `direct`, the default, or `shared`: approved shared usage such as
 * platform work, incident response or security review, reported apart from team usage — docs/reports.md):
 * ```
 * team_id,cost_center,owner,monthly_budget_usd
 * search,CC-1001,alice@example.com,2500
 * ```
 * services CSV — `service,team_id` required, `project_id` optional:
 * ```
 * service,team_id,project_id
 * checkout-assistant,growth,checkout
 * ```
 * Header names are matched case-insensitively; values are trimmed. Bad files are refused at startup with
 * every problem listed as `file:line: column "name": message` (see {@link MappingFileError}).
 */

export interface TeamRecord {
  teamId: string;
  costCenter: string;
  owner: string | null;
  /** Exact decimal string as written (`"2500"`, `"2500.50"`): money is never a binary float. */
  monthlyBudgetUsd: string | null;
  /**
   * `direct` (the default): the team's own usage, charged back to it. `shared`: approved shared usage (platform
   * work, incident response, security review), reported as its own bucket, never as a team's usage.
   * Always set by the parser; absent (records built by hand) means `direct`.
   */
  allocation?: TeamAllocation;
  /** Other columns, by header name as written (trimmed). */
  extra: Readonly<Record<string, string>>;
  /** Line in the teams file, for error messages. */
  line: number;
}

export const TEAM_ALLOCATIONS = ['direct', 'shared'] as const;
export type TeamAllocation = (typeof TEAM_ALLOCATIONS)[number];

export interface ServiceRecord {
  service: string;
  teamId: string;
  projectId: string | null;
  /** Line in the services file, for error messages. */
  line: number;
}

export interface MappingTables {
  /** team_id → team; null when no teams file is configured. */
  teams: ReadonlyMap<string, TeamRecord> | null;
  /** service.name → service; null when no services file is configured. */
  services: ReadonlyMap<string, ServiceRecord> | null;
  /** Where each table was read from (set by {@link loadMappingTables}; recorded in the ledger's versioned tables). */
  sources?: { teams: MappingSource | null; services: MappingSource | null };
}

/** The file a mapping table was loaded from, and the SHA-256 (hex) of its bytes. */
export interface MappingSource {
  file: string;
  sha256: string;
}

export interface MappingIssue {
  file: string;
  /** 1-based line, or null for problems with the file as a whole (unreadable). */
  line: number | null;
  /** Header name of the column concerned, when there is one. */
  column: string | null;
  message: string;
}

export function formatMappingIssue(issue: MappingIssue): string {
  const where = issue.line === null ? issue.file : `${issue.file}:${issue.line}`;
  const column = issue.column === null ? '' : ` column "${issue.column}":`;
  return `${where}:${column} ${issue.message}`;
}

/** A mapping file is invalid. `message` lists every problem found, one per line. */
export class MappingFileError extends Error {
  override readonly name = 'MappingFileError';
  constructor(readonly issues: readonly MappingIssue[]) {
    super(issues.map(formatMappingIssue).join('\n'));
  }
}

/** Issues in file order (stable: same-line issues keep the order they were found in). */
function byLine(issues: MappingIssue[]): MappingIssue[] {
  return issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

// ---- generic header/row reading ----

interface TableSpec {
  required: readonly string[];
  optional: readonly string[];
}

interface Row {
  line: number;
  /** Trimmed values by normalized (lower-case) header name. */
  values: Map<string, string>;
  /** Columns outside the spec, by header name as written. */
  extra: Record<string, string>;
}

interface TableResult {
  rows: Row[];
  issues: MappingIssue[];
  /** The header has every required column (so the rows were read). */
  headerOk: boolean;
}

function readTable(text: string, file: string, spec: TableSpec): TableResult {
  const { records, issues: csvIssues } = parseCsv(text);
  const issues: MappingIssue[] = [];
  const header = records[0];
  const names = header?.fields.map((name) => name.trim()) ?? [];
  const keys = names.map((name) => name.toLowerCase());
  const columnName = (index: number): string | null => names[index] ?? null;
  for (const issue of csvIssues) {
    const onHeader = header === undefined || issue.line <= header.line;
    issues.push({ file, line: issue.line, column: onHeader ? null : columnName(issue.fieldIndex), message: issue.message });
  }
  if (header === undefined) {
    issues.push({ file, line: 1, column: null, message: `file is empty: expected a header row "${spec.required.join(',')}"` });
    return { rows: [], issues, headerOk: false };
  }

  const known = new Set([...spec.required, ...spec.optional]);
  const firstIndex = new Map<string, number>();
  keys.forEach((key, index) => {
    if (key === '') return; // checked per row below: only a problem if the column holds data
    const first = firstIndex.get(key);
    if (first !== undefined) {
      issues.push({
        file,
        line: header.line,
        column: names[index] ?? key,
        message: `column appears twice in the header (columns ${first + 1} and ${index + 1})`,
      });
    } else {
      firstIndex.set(key, index);
    }
  });
  const missing = spec.required.filter((name) => !firstIndex.has(name));
  for (const name of missing) {
    issues.push({
      file,
      line: header.line,
      column: null,
      message: `missing required column "${name}" (header is: ${names.join(', ')})`,
    });
  }
  // Without the required columns every row would fail; the header problem is the one worth reading.
  if (missing.length > 0) return { rows: [], issues, headerOk: false };

  const rows: Row[] = [];
  for (const record of records.slice(1)) {
    const { fields, line } = record;
    // Spreadsheets pad rows with empty trailing cells: tolerate extra fields as long as they are empty.
    const extraFilled = fields.slice(names.length).some((field) => field.trim() !== '');
    if (fields.length < names.length || extraFilled) {
      issues.push({
        file,
        line,
        column: null,
        message: `expected ${names.length} fields (${names.join(', ')}), found ${fields.length}`,
      });
      continue;
    }
    const values = new Map<string, string>();
    const extra: Record<string, string> = {};
    let ok = true;
    names.forEach((name, index) => {
      const value = (fields[index] ?? '').trim();
      const key = keys[index] ?? '';
      if (key === '') {
        if (value !== '') {
          issues.push({ file, line, column: null, message: `field ${index + 1} has a value ("${value}") but its column has no header name` });
          ok = false;
        }
        return;
      }
      if (firstIndex.get(key) !== index) return; // duplicate column, reported on the header
      if (known.has(key)) values.set(key, value);
      else extra[name] = value;
    });
    if (ok) rows.push({ line, values, extra });
  }
  return { rows, issues, headerOk: true };
}

// ---- teams ----

const DECIMAL = /^\d+(?:\.\d+)?$/;

interface TeamsResult {
  teams: Map<string, TeamRecord>;
  /** Every team_id named in the file, even on rows with other problems (for cross-checking services). */
  teamIds: Set<string>;
  issues: MappingIssue[];
  headerOk: boolean;
}

function readTeams(text: string, file: string): TeamsResult {
  const { rows, issues, headerOk } = readTable(text, file, {
    required: ['team_id', 'cost_center'],
    optional: ['owner', 'monthly_budget_usd', 'allocation'],
  });
  const teams = new Map<string, TeamRecord>();
  const teamIds = new Set<string>();
  for (const { line, values, extra } of rows) {
    const teamId = values.get('team_id') ?? '';
    const costCenter = values.get('cost_center') ?? '';
    const owner = values.get('owner') ?? '';
    const budget = values.get('monthly_budget_usd') ?? '';
    const allocation = (values.get('allocation') ?? '').toLowerCase();
    let ok = true;
    const problem = (column: string, message: string): void => {
      issues.push({ file, line, column, message });
      ok = false;
    };
    if (teamId === '') {
      problem('team_id', 'empty value');
    } else {
      teamIds.add(teamId);
      const first = teams.get(teamId);
      if (first !== undefined) problem('team_id', `duplicate team "${teamId}" (first defined on line ${first.line})`);
    }
    if (costCenter === '') problem('cost_center', teamId === '' ? 'empty value' : `empty value for team "${teamId}"`);
    if (budget !== '' && !DECIMAL.test(budget)) {
      problem('monthly_budget_usd', `"${budget}" is not a non-negative decimal number (write e.g. 2500 or 2500.00)`);
    }
    if (allocation !== '' && !(TEAM_ALLOCATIONS as readonly string[]).includes(allocation)) {
      problem('allocation', `"${values.get('allocation') ?? ''}" is not one of ${TEAM_ALLOCATIONS.join(', ')} (empty means direct)`);
    }
    if (ok) {
      teams.set(teamId, {
        teamId,
        costCenter,
        owner: owner === '' ? null : owner,
        monthlyBudgetUsd: budget === '' ? null : budget,
        allocation: allocation === 'shared' ? 'shared' : 'direct',
        extra,
        line,
      });
    }
  }
  return { teams, teamIds, issues: byLine(issues), headerOk };
}

/** Parses a teams CSV; throws {@link MappingFileError} listing every problem. */
export function parseTeamsCsv(text: string, fileName: string): Map<string, TeamRecord> {
  const { teams, issues } = readTeams(text, fileName);
  if (issues.length > 0) throw new MappingFileError(issues);
  return teams;
}

// ---- services ----

/** Team ids known from the teams file, to check that every service points at a real team. */
export interface KnownTeams {
  teamIds: ReadonlySet<string>;
  fileName: string;
}

function readServices(text: string, file: string, knownTeams: KnownTeams | null): { services: Map<string, ServiceRecord>; issues: MappingIssue[] } {
  const { rows, issues } = readTable(text, file, { required: ['service', 'team_id'], optional: ['project_id'] });
  const services = new Map<string, ServiceRecord>();
  for (const { line, values } of rows) {
    const service = values.get('service') ?? '';
    const teamId = values.get('team_id') ?? '';
    const projectId = values.get('project_id') ?? '';
    let ok = true;
    const problem = (column: string, message: string): void => {
      issues.push({ file, line, column, message });
      ok = false;
    };
    if (service === '') {
      problem('service', 'empty value');
    } else {
      const first = services.get(service);
      if (first !== undefined) problem('service', `duplicate service "${service}" (first defined on line ${first.line})`);
    }
    if (teamId === '') {
      problem('team_id', service === '' ? 'empty value' : `empty value for service "${service}"`);
    } else if (knownTeams !== null && !knownTeams.teamIds.has(teamId)) {
      problem('team_id', `unknown team "${teamId}" (not in ${knownTeams.fileName})`);
    }
    if (ok) services.set(service, { service, teamId, projectId: projectId === '' ? null : projectId, line });
  }
  return { services, issues: byLine(issues) };
}

/**
 * Parses a services CSV; throws {@link MappingFileError} listing every problem. With `knownTeams`, a
 * service whose team_id is not in the teams table is an error.
 */
export function parseServicesCsv(text: string, fileName: string, knownTeams?: KnownTeams): Map<string, ServiceRecord> {
  const { services, issues } = readServices(text, fileName, knownTeams ?? null);
  if (issues.length > 0) throw new MappingFileError(issues);
  return services;
}

// ---- loading ----

async function readMappingFile(file: string, issues: MappingIssue[]): Promise<{ text: string; sha256: string } | null> {
  try {
    const bytes = await readFile(file);
    return { text: bytes.toString('utf8'), sha256: createHash('sha256').update(bytes).digest('hex') };
  } catch (err) {
    issues.push({ file, line: null, column: null, message: `cannot read file: ${(err as Error).message}` });
    return null;
  }
}

/**
 * Loads the configured mapping files (either may be absent: the table is then null). Problems in both
 * files are collected and thrown together as one {@link MappingFileError}, so FinOps fixes them in one go.
 */
export async function loadMappingTables(opts: { teamsFile?: string; servicesFile?: string }): Promise<MappingTables> {
  const issues: MappingIssue[] = [];
  let teams: Map<string, TeamRecord> | null = null;
  let knownTeams: KnownTeams | null = null;
  const sources: NonNullable<MappingTables['sources']> = { teams: null, services: null };
  if (opts.teamsFile !== undefined) {
    const read = await readMappingFile(opts.teamsFile, issues);
    if (read !== null) {
      sources.teams = { file: opts.teamsFile, sha256: read.sha256 };
      const result = readTeams(read.text, opts.teamsFile);
      issues.push(...result.issues);
      teams = result.teams;
      // A teams file without its required columns names no teams: checking services against it is noise.
      if (result.headerOk) knownTeams = { teamIds: result.teamIds, fileName: opts.teamsFile };
    }
  }
  let services: Map<string, ServiceRecord> | null = null;
  if (opts.servicesFile !== undefined) {
    const read = await readMappingFile(opts.servicesFile, issues);
    if (read !== null) {
      sources.services = { file: opts.servicesFile, sha256: read.sha256 };
      const result = readServices(read.text, opts.servicesFile, knownTeams);
      issues.push(...result.issues);
      services = result.services;
    }
  }
  if (issues.length > 0) throw new MappingFileError(issues);
  return { teams, services, sources };
}
