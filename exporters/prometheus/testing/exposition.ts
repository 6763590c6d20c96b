/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every line
 * must be a comment, blank, or `name{label="value",...} value`; anything else throws, so a test that
 * parses our output also proves it is well-formed.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  /** The value as written (compare text when exactness matters). */
  text: string;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  help: Map<string, string>;
  type: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

export function parseExposition(text: string): Exposition {
  const out: Exposition = { samples: [], help: new Map(), type: new Map() };
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta !== null) {
      (meta[1] === 'HELP' ? out.help : out.type).set(meta[2]!, meta[3]!);
      return;
    }
    if (line.startsWith('#')) return;
    const fail = (why: string): never => {
      throw new Error(`exposition line ${i + 1}: ${why}: ${line}`);
    };
    const name = NAME.exec(line)?.[0] ?? fail('no metric name');
    let pos = name.length;
    const labels: Record<string, string> = {};
    if (line[pos] === '{') {
      pos++;
      while (line[pos] !== '}') {
        const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(pos)) ?? fail('bad label');
        pos += label[0].length;
        let value = '';
        for (;;) {
          const c = line[pos] ?? fail('unterminated label value');
          pos++;
          if (c === '"') break;
          if (c === '\\') {
            const e = line[pos] ?? fail('bad escape');
            pos++;
            if (e === 'n') value += '\n';
            else if (e === '\\' || e === '"') value += e;
            else fail(`bad escape \\${e}`);
          } else value += c;
        }
        if (label[1]! in labels) fail(`label ${label[1]} twice`);
        labels[label[1]!] = value;
        if (line[pos] === ',') pos++;
        else if (line[pos] !== '}') fail('expected , or }');
      }
      pos++;
    }
    const rest = line.slice(pos);
    const valueText = /^ (\S+)( -?\d+)?$/.exec(rest)?.[1] ?? fail('bad value');
    // Prometheus parses values with Go's ParseFloat: NaN in any case (prom-client writes `Nan`), ±Inf
    const value = /^nan$/i.test(valueText) ? Number.NaN : /^\+?inf$/i.test(valueText) ? Infinity : /^-inf$/i.test(valueText) ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && !/^nan$/i.test(valueText)) fail('value is not a number');
    out.samples.push({ name, labels, text: valueText, value });
  });
  return out;
}

/** Samples of `name` whose labels include `match`. */
export function samplesOf(exposition: Exposition, name: string, match: Record<string, string> = {}): Sample[] {
  return exposition.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/** The one sample of `name` matching `match` (throws when there is not exactly one). */
export function sampleOf(exposition: Exposition, name: string, match: Record<string, string> = {}): Sample {
  const found = samplesOf(exposition, name, match);
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(match)}`);
  return found[0]!;
}
