import {
  DuckDBArrayValue,
  DuckDBBlobValue,
  DuckDBDateValue,
  DuckDBIntervalValue,
  DuckDBListValue,
  DuckDBTimeNSValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTimeTZValue,
  DuckDBTimeValue,
  DuckDBTypeId,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import { SqlError, SqlState } from './sql-error.js';

/** PostgreSQL type OIDs (pg_type.dat) of the types results are described with. */
export const Oid = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  json: 114,
  float4: 700,
  float8: 701,
  unknown: 705,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  numeric: 1700,
  uuid: 2950,
  textArray: 1009,
} as const;

/** How one result column is described and encoded for a PostgreSQL client. */
export interface PgColumnType {
  oid: number;
  /** pg_type.typlen: bytes of a fixed-size type, -1 for variable size. */
  size: number;
  typeModifier: number;
  /** PostgreSQL's text output for a non-NULL value. */
  text(value: DuckDBValue): string;
  /** PostgreSQL's binary output (typsend) for a non-NULL value. */
  binary(value: DuckDBValue): Uint8Array;
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const int16Bytes = (v: number) => {
  const b = Buffer.allocUnsafe(2);
  b.writeInt16BE(v);
  return b;
};
const int32Bytes = (v: number) => {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(v);
  return b;
};
const int64Bytes = (v: bigint) => {
  const b = Buffer.allocUnsafe(8);
  b.writeBigInt64BE(BigInt.asIntN(64, v));
  return b;
};

// ---- text forms ------------------------------------------------------------------------------------

/** Days since 1970-01-01 → [year, month, day] (proleptic Gregorian; Howard Hinnant's civil_from_days). */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [era * 400 + yoe + (m <= 2 ? 1 : 0), m, d];
}

const pad = (n: number | bigint, width: number): string => String(n).padStart(width, '0');

/** PostgreSQL's ISO date: years before 1 are written `YYYY-MM-DD BC` (there is no year 0). */
function dateText(days: number): { date: string; bc: boolean } {
  const [y, m, d] = civilFromDays(days);
  const bc = y <= 0;
  return { date: `${pad(bc ? 1 - y : y, 4)}-${pad(m, 2)}-${pad(d, 2)}`, bc };
}

/** `HH:MM:SS` with a fraction only when there is one, trailing zeros dropped (as PostgreSQL prints). */
function timeOfDayText(micros: bigint): string {
  const seconds = micros / 1_000_000n;
  const fraction = micros % 1_000_000n;
  const base = `${pad(seconds / 3600n, 2)}:${pad((seconds / 60n) % 60n, 2)}:${pad(seconds % 60n, 2)}`;
  return fraction === 0n ? base : `${base}.${pad(fraction, 6).replace(/0+$/, '')}`;
}

const MICROS_PER_DAY = 86_400_000_000n;
const INT64_MAX = 9223372036854775807n;

function timestampText(micros: bigint, withZone: boolean): string {
  if (micros >= INT64_MAX) return 'infinity';
  if (micros <= -INT64_MAX) return '-infinity';
  let days = micros / MICROS_PER_DAY;
  let rest = micros % MICROS_PER_DAY;
  if (rest < 0n) {
    rest += MICROS_PER_DAY;
    days -= 1n;
  }
  const { date, bc } = dateText(Number(days));
  return `${date} ${timeOfDayText(rest)}${withZone ? '+00' : ''}${bc ? ' BC' : ''}`;
}

function dateValueText(value: DuckDBDateValue): string {
  if (!value.isFinite) return value.days > 0 ? 'infinity' : '-infinity';
  const { date, bc } = dateText(value.days);
  return bc ? `${date} BC` : date;
}

function offsetText(offsetSeconds: number): string {
  const sign = offsetSeconds < 0 ? '-' : '+';
  const abs = Math.abs(offsetSeconds);
  const hh = pad(Math.floor(abs / 3600), 2);
  const mm = Math.floor(abs / 60) % 60;
  const ss = abs % 60;
  return `${sign}${hh}${mm || ss ? `:${pad(mm, 2)}` : ''}${ss ? `:${pad(ss, 2)}` : ''}`;
}

/** PostgreSQL's default IntervalStyle (`postgres`): `1 year 2 mons 3 days 04:05:06.5`. */
function intervalText(v: DuckDBIntervalValue): string {
  const parts: string[] = [];
  const unit = (n: number, one: string, many: string) => {
    if (n !== 0) parts.push(`${n} ${n === 1 ? one : many}`);
  };
  unit(Math.trunc(v.months / 12), 'year', 'years');
  unit(v.months % 12, 'mon', 'mons');
  unit(v.days, 'day', 'days');
  if (v.micros !== 0n || parts.length === 0) {
    const negative = v.micros < 0n;
    const abs = negative ? -v.micros : v.micros;
    const text = timeOfDayText(abs);
    parts.push(negative ? `-${text}` : text);
  }
  return parts.join(' ');
}

/** The shortest decimal that reads back as the same float4 (PostgreSQL ≥ 12 prints floats this way). */
function float4Text(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
  if (Object.is(n, -0)) return '-0';
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(n.toPrecision(p));
    if (Math.fround(candidate) === n) return String(candidate);
  }
  return String(n);
}

function float8Text(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
  return Object.is(n, -0) ? '-0' : String(n);
}

/** An element of a PostgreSQL array literal: quoted when it could be misread, with `"` and `\` escaped. */
function arrayElementText(s: string): string {
  if (s === '' || /[{}",\\\s]/.test(s) || /^null$/i.test(s)) return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  return s;
}

function blobText(bytes: Uint8Array): string {
  return `\\x${Buffer.from(bytes).toString('hex')}`;
}

/** Text for any DuckDB value, for columns described as text (structs, maps, unions, ...). */
function genericText(value: DuckDBValue): string {
  if (value instanceof DuckDBBlobValue) return blobText(value.bytes);
  if (typeof value === 'boolean') return value ? 't' : 'f';
  return String(value);
}

// ---- numeric binary ----------------------------------------------------------------------------------

/** PostgreSQL's binary NUMERIC (base-10000 digits, weight, sign, display scale) from an exact decimal string. */
export function numericBinary(decimal: string): Buffer {
  if (decimal === 'NaN') return Buffer.from([0, 0, 0, 0, 0xc0, 0, 0, 0]);
  const negative = decimal.startsWith('-');
  const [intPartRaw = '', fracPart = ''] = (negative ? decimal.slice(1) : decimal).split('.');
  const intPart = intPartRaw.replace(/^0+/, '');
  const dscale = fracPart.length;
  // Group digits in fours around the decimal point.
  const intPadded = intPart.padStart(Math.ceil(intPart.length / 4) * 4, '0');
  const fracPadded = fracPart.padEnd(Math.ceil(fracPart.length / 4) * 4, '0');
  const groups: number[] = [];
  for (let i = 0; i < intPadded.length; i += 4) groups.push(Number(intPadded.slice(i, i + 4)));
  for (let i = 0; i < fracPadded.length; i += 4) groups.push(Number(fracPadded.slice(i, i + 4)));
  let weight = intPadded.length / 4 - 1;
  // Strip leading and trailing zero groups (PostgreSQL stores none).
  while (groups.length > 0 && groups[0] === 0) {
    groups.shift();
    weight--;
  }
  while (groups.length > 0 && groups[groups.length - 1] === 0) groups.pop();
  if (groups.length === 0) weight = 0;
  const out = Buffer.allocUnsafe(8 + groups.length * 2);
  out.writeInt16BE(groups.length, 0);
  out.writeInt16BE(weight, 2);
  out.writeUInt16BE(negative && groups.length > 0 ? 0x4000 : 0, 4);
  out.writeInt16BE(dscale, 6);
  groups.forEach((g, i) => out.writeInt16BE(g, 8 + i * 2));
  return out;
}

/** Exact decimal text from PostgreSQL's binary NUMERIC (for binary-format parameters). */
export function numericFromBinary(b: Buffer): string {
  const ndigits = b.readInt16BE(0);
  const weight = b.readInt16BE(2);
  const sign = b.readUInt16BE(4);
  const dscale = b.readInt16BE(6);
  if (sign === 0xc000) return 'NaN';
  if (sign === 0xd000) return 'Infinity';
  if (sign === 0xf000) return '-Infinity';
  let digits = '';
  for (let i = 0; i < ndigits; i++) digits += pad(b.readInt16BE(8 + i * 2), 4);
  // digits represent groups starting at 10000^weight.
  const intGroups = weight + 1;
  let intPart: string;
  let fracPart: string;
  if (intGroups <= 0) {
    intPart = '0';
    fracPart = '0000'.repeat(-intGroups) + digits;
  } else {
    const padded = digits.padEnd(intGroups * 4, '0');
    intPart = padded.slice(0, intGroups * 4).replace(/^0+(?=\d)/, '');
    fracPart = padded.slice(intGroups * 4);
  }
  fracPart = fracPart.padEnd(dscale, '0').slice(0, dscale);
  const text = dscale > 0 ? `${intPart}.${fracPart}` : intPart;
  return sign === 0x4000 ? `-${text}` : text;
}

// ---- the mapping -------------------------------------------------------------------------------------

const PG_EPOCH_DAYS = 10957; // 2000-01-01 in days since 1970-01-01
const PG_EPOCH_MICROS = 946_684_800_000_000n;

const micros = (v: DuckDBValue): bigint => {
  if (v instanceof DuckDBTimestampValue || v instanceof DuckDBTimestampTZValue) return v.micros;
  if (v instanceof DuckDBTimestampNanosecondsValue) return v.isFinite ? v.nanos / 1000n : v.nanos > 0n ? INT64_MAX : -INT64_MAX;
  if (v instanceof DuckDBTimestampMillisecondsValue) return v.isFinite ? v.millis * 1000n : v.millis > 0n ? INT64_MAX : -INT64_MAX;
  if (v instanceof DuckDBTimestampSecondsValue) return v.isFinite ? v.seconds * 1_000_000n : v.seconds > 0n ? INT64_MAX : -INT64_MAX;
  throw new Error(`not a timestamp: ${String(v)}`);
};
const timeMicros = (v: DuckDBValue): bigint =>
  v instanceof DuckDBTimeValue ? v.micros : v instanceof DuckDBTimeNSValue ? v.nanos / 1000n : BigInt(String(v));

/** Plain text (what SHOW and intercepted statements return). */
export const textColumnType: PgColumnType = { oid: Oid.text, size: -1, typeModifier: -1, text: genericText, binary: (v) => utf8(genericText(v)) };

function integerType(oid: number, size: 2 | 4 | 8): PgColumnType {
  return {
    oid,
    size,
    typeModifier: -1,
    text: (v) => String(v),
    binary: (v) => (size === 2 ? int16Bytes(Number(v)) : size === 4 ? int32Bytes(Number(v)) : int64Bytes(BigInt(v as number | bigint))),
  };
}

function numericType(typeModifier: number): PgColumnType {
  return { oid: Oid.numeric, size: -1, typeModifier, text: (v) => String(v), binary: (v) => numericBinary(String(v)) };
}

function timestampType(withZone: boolean): PgColumnType {
  return {
    oid: withZone ? Oid.timestamptz : Oid.timestamp,
    size: 8,
    typeModifier: -1,
    text: (v) => timestampText(micros(v), withZone),
    binary: (v) => {
      const m = micros(v);
      return int64Bytes(m >= INT64_MAX ? INT64_MAX : m <= -INT64_MAX ? -INT64_MAX - 1n : m - PG_EPOCH_MICROS);
    },
  };
}

/** The PostgreSQL type a DuckDB result column is described and encoded as. */
export function pgColumnType(type: DuckDBType): PgColumnType {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return { oid: Oid.bool, size: 1, typeModifier: -1, text: (v) => (v ? 't' : 'f'), binary: (v) => Buffer.from([v ? 1 : 0]) };
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.SMALLINT:
      return integerType(Oid.int2, 2);
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.INTEGER:
      return integerType(Oid.int4, 4);
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.BIGINT:
      return integerType(Oid.int8, 8);
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.BIGNUM:
      return numericType(-1);
    case DuckDBTypeId.DECIMAL: {
      const { width, scale } = type as unknown as { width: number; scale: number };
      return numericType(((width << 16) | scale) + 4);
    }
    case DuckDBTypeId.FLOAT:
      return {
        oid: Oid.float4,
        size: 4,
        typeModifier: -1,
        text: (v) => float4Text(v as number),
        binary: (v) => {
          const b = Buffer.allocUnsafe(4);
          b.writeFloatBE(v as number);
          return b;
        },
      };
    case DuckDBTypeId.DOUBLE:
      return {
        oid: Oid.float8,
        size: 8,
        typeModifier: -1,
        text: (v) => float8Text(v as number),
        binary: (v) => {
          const b = Buffer.allocUnsafe(8);
          b.writeDoubleBE(v as number);
          return b;
        },
      };
    case DuckDBTypeId.VARCHAR:
      if (type.alias === 'JSON') return { ...textColumnType, oid: Oid.json };
      return textColumnType;
    case DuckDBTypeId.ENUM:
      return textColumnType;
    case DuckDBTypeId.BLOB:
      return {
        oid: Oid.bytea,
        size: -1,
        typeModifier: -1,
        text: (v) => blobText((v as DuckDBBlobValue).bytes),
        binary: (v) => Buffer.from((v as DuckDBBlobValue).bytes),
      };
    case DuckDBTypeId.DATE:
      return {
        oid: Oid.date,
        size: 4,
        typeModifier: -1,
        text: (v) => dateValueText(v as DuckDBDateValue),
        binary: (v) => {
          const d = v as DuckDBDateValue;
          return int32Bytes(d.isFinite ? d.days - PG_EPOCH_DAYS : d.days > 0 ? 0x7fffffff : -0x80000000);
        },
      };
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return timestampType(false);
    case DuckDBTypeId.TIMESTAMP_TZ:
      return timestampType(true);
    case DuckDBTypeId.TIME:
    case DuckDBTypeId.TIME_NS:
      return { oid: Oid.time, size: 8, typeModifier: -1, text: (v) => timeOfDayText(timeMicros(v)), binary: (v) => int64Bytes(timeMicros(v)) };
    case DuckDBTypeId.TIME_TZ:
      return {
        oid: Oid.timetz,
        size: 12,
        typeModifier: -1,
        text: (v) => `${timeOfDayText((v as DuckDBTimeTZValue).micros)}${offsetText((v as DuckDBTimeTZValue).offset)}`,
        // PostgreSQL stores the zone as seconds west of UTC.
        binary: (v) => Buffer.concat([int64Bytes((v as DuckDBTimeTZValue).micros), int32Bytes(-(v as DuckDBTimeTZValue).offset)]),
      };
    case DuckDBTypeId.INTERVAL:
      return {
        oid: Oid.interval,
        size: 16,
        typeModifier: -1,
        text: (v) => intervalText(v as DuckDBIntervalValue),
        binary: (v) => {
          const i = v as DuckDBIntervalValue;
          return Buffer.concat([int64Bytes(i.micros), int32Bytes(i.days), int32Bytes(i.months)]);
        },
      };
    case DuckDBTypeId.UUID:
      return { oid: Oid.uuid, size: 16, typeModifier: -1, text: (v) => String(v), binary: (v) => Buffer.from(String(v).replace(/-/g, ''), 'hex') };
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return textArrayType(pgColumnType((type as unknown as { valueType: DuckDBType }).valueType));
    default:
      return textColumnType;
  }
}

/** Every DuckDB list (and fixed-size array) is described as text[]: its elements in their PostgreSQL text form. */
function textArrayType(element: PgColumnType): PgColumnType {
  const items = (v: DuckDBValue): readonly DuckDBValue[] =>
    v instanceof DuckDBListValue || v instanceof DuckDBArrayValue ? v.items : [];
  return {
    oid: Oid.textArray,
    size: -1,
    typeModifier: -1,
    text: (v) => `{${items(v).map((item) => (item === null ? 'NULL' : arrayElementText(element.text(item)))).join(',')}}`,
    binary: (v) => {
      const list = items(v);
      const parts: Buffer[] = [];
      const header = Buffer.allocUnsafe(list.length === 0 ? 12 : 20);
      header.writeInt32BE(list.length === 0 ? 0 : 1, 0);
      header.writeInt32BE(list.some((i) => i === null) ? 1 : 0, 4);
      header.writeInt32BE(Oid.text, 8);
      if (list.length > 0) {
        header.writeInt32BE(list.length, 12);
        header.writeInt32BE(1, 16);
      }
      parts.push(header);
      for (const item of list) {
        if (item === null) parts.push(int32Bytes(-1));
        else {
          const bytes = utf8(element.text(item));
          parts.push(int32Bytes(bytes.length), bytes);
        }
      }
      return Buffer.concat(parts);
    },
  };
}

/** The OID a statement parameter is described with, from the type DuckDB inferred for it. */
export function parameterOid(typeId: DuckDBTypeId | null): number {
  switch (typeId) {
    case DuckDBTypeId.BOOLEAN:
      return Oid.bool;
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.UTINYINT:
      return Oid.int2;
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.USMALLINT:
      return Oid.int4;
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UINTEGER:
      return Oid.int8;
    case DuckDBTypeId.FLOAT:
      return Oid.float4;
    case DuckDBTypeId.DOUBLE:
      return Oid.float8;
    case DuckDBTypeId.DECIMAL:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.UHUGEINT:
      return Oid.numeric;
    case DuckDBTypeId.DATE:
      return Oid.date;
    case DuckDBTypeId.TIMESTAMP:
      return Oid.timestamp;
    case DuckDBTypeId.TIMESTAMP_TZ:
      return Oid.timestamptz;
    case DuckDBTypeId.INTERVAL:
      return Oid.interval;
    case DuckDBTypeId.UUID:
      return Oid.uuid;
    case DuckDBTypeId.BLOB:
      return Oid.bytea;
    case DuckDBTypeId.VARCHAR:
      return Oid.text;
    default:
      return Oid.text;
  }
}

/** The DuckDB type a client-declared parameter OID is cast to; null leaves the parameter to DuckDB's inference. */
export function duckDbTypeForOid(oid: number): string | null {
  switch (oid) {
    case Oid.bool:
      return 'BOOLEAN';
    case Oid.int2:
      return 'SMALLINT';
    case Oid.int4:
      return 'INTEGER';
    case Oid.int8:
      return 'BIGINT';
    case Oid.float4:
      return 'FLOAT';
    case Oid.float8:
      return 'DOUBLE';
    case Oid.numeric:
      return 'DECIMAL(38,12)';
    case Oid.text:
    case Oid.varchar:
    case Oid.json:
      return 'VARCHAR';
    case Oid.date:
      return 'DATE';
    case Oid.timestamp:
      return 'TIMESTAMP';
    case Oid.timestamptz:
      return 'TIMESTAMPTZ';
    case Oid.interval:
      return 'INTERVAL';
    case Oid.uuid:
      return 'UUID';
    case Oid.bytea:
      return 'BLOB';
    case Oid.time:
      return 'TIME';
    default:
      return null;
  }
}

/**
 * A binary-format parameter (Bind) as the text DuckDB casts to the parameter's type. Text-format parameters
 * are passed as they came.
 */
export function binaryParameterText(oid: number, b: Buffer): string {
  const need = (n: number) => {
    if (b.length !== n) throw new SqlError(SqlState.protocolViolation, `binary parameter of type ${oid} must be ${n} bytes, got ${b.length}`);
  };
  switch (oid) {
    case Oid.bool:
      need(1);
      return b[0] ? 'true' : 'false';
    case Oid.int2:
      need(2);
      return String(b.readInt16BE(0));
    case Oid.int4:
      need(4);
      return String(b.readInt32BE(0));
    case Oid.int8:
      need(8);
      return String(b.readBigInt64BE(0));
    case Oid.float4:
      need(4);
      return float4Text(b.readFloatBE(0));
    case Oid.float8:
      need(8);
      return float8Text(b.readDoubleBE(0));
    case Oid.numeric:
      return numericFromBinary(b);
    case Oid.text:
    case Oid.varchar:
    case Oid.unknown:
    case Oid.json:
      return b.toString('utf8');
    case Oid.date:
      need(4);
      return dateValueText(new DuckDBDateValue(b.readInt32BE(0) + PG_EPOCH_DAYS));
    case Oid.timestamp:
    case Oid.timestamptz:
      need(8);
      return timestampText(b.readBigInt64BE(0) + PG_EPOCH_MICROS, oid === Oid.timestamptz);
    case Oid.uuid: {
      need(16);
      const h = b.toString('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
    case Oid.bytea:
      return [...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('');
    default:
      throw new SqlError(SqlState.featureNotSupported, `binary format is not supported for parameters of type oid ${oid}; send it as text`);
  }
}

/** Fixed exports for tests of the text forms. */
export const textForms = { timestampText, intervalText, float4Text, arrayElementText, dateText };
