/**
 * An error a PostgreSQL client receives as an ErrorResponse: a SQLSTATE it can act on and a message for
 * people. `fatal` errors end the connection (the client sees severity FATAL).
 */
export class SqlError extends Error {
  override name = 'SqlError';
  constructor(
    readonly sqlState: string,
    message: string,
    readonly options: { fatal?: boolean; hint?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** The SQLSTATEs this endpoint sends (PostgreSQL's appendix A names). */
export const SqlState = {
  syntaxError: '42601',
  readOnlySqlTransaction: '25006',
  inFailedSqlTransaction: '25P02',
  insufficientPrivilege: '42501',
  undefinedTable: '42P01',
  undefinedColumn: '42703',
  undefinedFunction: '42883',
  undefinedObject: '42704',
  queryCanceled: '57014',
  invalidPassword: '28P01',
  invalidAuthorizationSpecification: '28000',
  tooManyConnections: '53300',
  outOfMemory: '53200',
  programLimitExceeded: '54000',
  featureNotSupported: '0A000',
  protocolViolation: '08P01',
  invalidParameterValue: '22023',
  invalidTextRepresentation: '22P02',
  dataException: '22000',
  divisionByZero: '22012',
  numericValueOutOfRange: '22003',
  invalidSqlStatementName: '26000',
  invalidCursorName: '34000',
  adminShutdown: '57P01',
  internalError: 'XX000',
} as const;

/**
 * DuckDB's error class (the words before "Error:" in its message) → SQLSTATE. Anything not listed is
 * XX000 with DuckDB's message.
 */
export function sqlErrorFromDuckDb(err: unknown, cancelled: 'timeout' | 'user' | 'shutdown' | null): SqlError {
  const message = err instanceof Error ? err.message : String(err);
  const firstLine = message.split('\n')[0] ?? message;
  const kind = /^([A-Za-z ]+?) Error:/.exec(firstLine)?.[1]?.toLowerCase() ?? '';
  if (kind === 'interrupt' || cancelled !== null) {
    if (cancelled === 'timeout') return new SqlError(SqlState.queryCanceled, 'canceling statement due to statement timeout', { cause: err });
    if (cancelled === 'shutdown') {
      return new SqlError(SqlState.adminShutdown, 'terminating connection due to administrator command', { fatal: true, cause: err });
    }
    return new SqlError(SqlState.queryCanceled, 'canceling statement due to user request', { cause: err });
  }
  const state = ((): string => {
    switch (kind) {
      case 'parser':
        return SqlState.syntaxError;
      case 'catalog':
        if (/Table with name|Table Function with name|View with name/i.test(firstLine)) {
          return /Function/i.test(firstLine) ? SqlState.undefinedFunction : SqlState.undefinedTable;
        }
        if (/Function with name|Macro Function/i.test(firstLine)) return SqlState.undefinedFunction;
        if (/Schema with name/i.test(firstLine)) return '3F000';
        return SqlState.undefinedObject;
      case 'binder':
        if (/Referenced column .* not found|column .* does not exist/i.test(firstLine)) return SqlState.undefinedColumn;
        if (/No function matches/i.test(firstLine)) return SqlState.undefinedFunction;
        return '42P18';
      case 'permission':
        return SqlState.insufficientPrivilege;
      case 'transactioncontext':
      case 'transaction context':
        return /read-only/i.test(firstLine) ? SqlState.readOnlySqlTransaction : '25000';
      case 'out of memory':
        return SqlState.outOfMemory;
      case 'conversion':
        return SqlState.invalidTextRepresentation;
      case 'out of range':
        return SqlState.numericValueOutOfRange;
      case 'invalid input':
        return SqlState.invalidParameterValue;
      case 'divide by zero':
        return SqlState.divisionByZero;
      case 'not implemented':
        return SqlState.featureNotSupported;
      default:
        return SqlState.internalError;
    }
  })();
  return new SqlError(state, firstLine, { cause: err });
}
