/** What a span held in the ring leaves behind (see {@link RootRing}). */
export interface RootSlot {
  traceId: string;
  spanId: string;
  /** '' for a root. */
  parentSpanId: string;
  arrivedAt: number;
  startMs: number;
  isCall: boolean;
  hasUsage: boolean;
  richness: number;
  /** Hash of the provider response id (null: none). */
  responseKey: number | null;
  teamId: string | null;
  projectId: string | null;
  environment: string | null;
  /** `http.route` of a SERVER span (inherited by the calls below it like ownership). */
  route: string | null;
}

const F_CALL = 1;
const F_USAGE = 2;
const F_RESPONSE = 4;
const F_PARENT = 8;
/** Words per slot: trace id (4 × 32 bits), span id and parent span id (2 × 32 bits each). */
const ID_WORDS = 8;

/**
 * Spans that nothing has referred to yet and that decide nothing by arriving: root spans while no span
 * waits for a parent (one GenAI call per trace is the bulk of GenAI traffic) and plain spans without
 * ownership (links in a chain). Such a span matters only if a child or a twin turns up later. They are kept here, in
 * preallocated typed arrays (ids parsed from hex into 32-bit words), so remembering them allocates nothing
 * and gives the garbage collector nothing to trace: ownership strings are interned and stored as numbers.
 * (A root never waits for an ancestor's ownership, so its resource ownership is not needed later.)
 * When a lookup is needed they are turned into index nodes in bulk
 * ({@link drain}). A full ring overwrites its oldest slot: that span is forgotten.
 */
export class RootRing {
  private readonly ids: Uint32Array;
  private readonly arrived: Float64Array;
  private readonly start: Float64Array;
  private readonly flags: Uint8Array;
  private readonly richness: Uint8Array;
  private readonly responseKeys: Int32Array;
  /** Interned string numbers (-1: null) of the span's own team, project and environment. */
  private readonly teams: Int32Array;
  private readonly projects: Int32Array;
  private readonly environments: Int32Array;
  /**
   * Server routes, by reference: interning them (hashing a fresh string per span) cost most of what pushing a
   * server span costs, and every HTTP request's root span carries one.
   */
  private readonly routes: (string | null)[];
  private readonly strings: string[] = [];
  private readonly stringNumbers = new Map<string, number>();
  /** Bumped when the string table is reset. */
  private generation = 0;
  /** Slots written so far (the next slot is written % capacity). */
  private written = 0;
  /** Slots before this sequence number were drained or overwritten. */
  private drained = 0;

  constructor(readonly capacity: number) {
    this.ids = new Uint32Array(capacity * ID_WORDS);
    this.arrived = new Float64Array(capacity);
    this.start = new Float64Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.richness = new Uint8Array(capacity);
    this.responseKeys = new Int32Array(capacity);
    this.teams = new Int32Array(capacity);
    this.projects = new Int32Array(capacity);
    this.environments = new Int32Array(capacity);
    this.routes = new Array<string | null>(capacity).fill(null);
  }

  /** Slots not drained yet (overwritten ones excluded). */
  get size(): number {
    return this.written - Math.max(this.drained, this.written - this.capacity);
  }

  /**
   * Remembers a root span. Returns false (and remembers nothing) when an id is not plain lowercase hex of the
   * OTLP length, so the caller indexes it the ordinary way.
   */
  push(
    traceId: string,
    spanId: string,
    parentSpanId: string,
    arrivedAt: number,
    startMs: number,
    isCall: boolean,
    hasUsage: boolean,
    richness: number,
    responseKey: number | null,
    teamId: string | null,
    projectId: string | null,
    environment: string | null,
    route: string | null = null,
  ): boolean {
    const hasParent = parentSpanId !== '';
    if (this.capacity === 0 || traceId.length !== 32 || spanId.length !== 16 || (hasParent && parentSpanId.length !== 16)) return false;
    const slot = this.written % this.capacity;
    const base = slot * ID_WORDS;
    const ids = this.ids;
    if (
      !parseHexWord(traceId, 0, ids, base) ||
      !parseHexWord(traceId, 8, ids, base + 1) ||
      !parseHexWord(traceId, 16, ids, base + 2) ||
      !parseHexWord(traceId, 24, ids, base + 3) ||
      !parseHexWord(spanId, 0, ids, base + 4) ||
      !parseHexWord(spanId, 8, ids, base + 5) ||
      (hasParent && (!parseHexWord(parentSpanId, 0, ids, base + 6) || !parseHexWord(parentSpanId, 8, ids, base + 7)))
    ) {
      return false;
    }
    this.arrived[slot] = arrivedAt;
    this.start[slot] = startMs;
    this.flags[slot] =
      (isCall ? F_CALL : 0) | (hasUsage ? F_USAGE : 0) | (responseKey === null ? 0 : F_RESPONSE) | (hasParent ? F_PARENT : 0);
    this.richness[slot] = richness;
    this.responseKeys[slot] = responseKey ?? 0;
    const generation = this.generation;
    let team = this.number(teamId);
    let project = this.number(projectId);
    let env = this.number(environment);
    if (this.generation !== generation) {
      // The string table was reset midway: number all three again (a fresh table cannot fill up again).
      team = this.number(teamId);
      project = this.number(projectId);
      env = this.number(environment);
    }
    this.teams[slot] = team;
    this.projects[slot] = project;
    this.environments[slot] = env;
    this.routes[slot] = route;
    this.written++;
    return true;
  }

  /** Hands every slot not drained yet and not older than `oldest` to `take`, oldest first, and empties the ring. */
  drain(oldest: number, take: (slot: RootSlot) => void): void {
    const from = Math.max(this.drained, this.written - this.capacity);
    const to = this.written;
    this.drained = to;
    for (let seq = from; seq < to; seq++) {
      const slot = seq % this.capacity;
      const arrivedAt = this.arrived[slot]!;
      if (arrivedAt <= oldest) continue;
      const flags = this.flags[slot]!;
      const base = slot * ID_WORDS;
      take({
        traceId: hexWords(this.ids, base, 4),
        spanId: hexWords(this.ids, base + 4, 2),
        parentSpanId: (flags & F_PARENT) !== 0 ? hexWords(this.ids, base + 6, 2) : '',
        arrivedAt,
        startMs: this.start[slot]!,
        isCall: (flags & F_CALL) !== 0,
        hasUsage: (flags & F_USAGE) !== 0,
        richness: this.richness[slot]!,
        responseKey: (flags & F_RESPONSE) !== 0 ? this.responseKeys[slot]! : null,
        teamId: this.text(this.teams[slot]!),
        projectId: this.text(this.projects[slot]!),
        environment: this.text(this.environments[slot]!),
        route: this.routes[slot] ?? null,
      });
      this.routes[slot] = null;
    }
  }

  /** Interns an ownership string (there are few distinct teams); past 65536 distinct ones, starts over. */
  private number(text: string | null): number {
    if (text === null) return -1;
    let n = this.stringNumbers.get(text);
    if (n === undefined) {
      if (this.strings.length >= 65_536) this.forgetStrings();
      n = this.strings.length;
      this.strings.push(text);
      this.stringNumbers.set(text, n);
    }
    return n;
  }

  private text(n: number): string | null {
    return n < 0 ? null : (this.strings[n] ?? null);
  }

  /** Too many distinct strings (hostile input): forget the ring's ownership rather than grow without bound. */
  private forgetStrings(): void {
    this.teams.fill(-1);
    this.projects.fill(-1);
    this.environments.fill(-1);
    this.strings.length = 0;
    this.stringNumbers.clear();
    this.generation++;
  }
}

/** Parses 8 lowercase hex chars at `offset` into words[index]; false on any other character. */
function parseHexWord(text: string, offset: number, words: Uint32Array, index: number): boolean {
  let value = 0;
  for (let i = offset; i < offset + 8; i++) {
    const c = text.charCodeAt(i);
    let nibble: number;
    if (c >= 48 && c <= 57) nibble = c - 48;
    else if (c >= 97 && c <= 102) nibble = c - 87;
    else return false;
    value = (value << 4) | nibble;
  }
  words[index] = value >>> 0;
  return true;
}

function hexWords(words: Uint32Array, base: number, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += words[base + i]!.toString(16).padStart(8, '0');
  return out;
}

/** 32-bit FNV-1a of a string: response ids are compared by it (within one trace, collisions are negligible). */
export function hashText(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
