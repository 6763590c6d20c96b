/**
 * A decoding failure that knows where it happened. The innermost code throws it with the reason; each
 * enclosing message prepends its own path segment on the way out (only on the error path, so decoding a
 * valid payload pays nothing for it). The public decoders turn it into a PipelineError of kind 'invalid'.
 */
export class DecodeError extends Error {
  /** Path segments, outermost first: `['resource_spans[0]', 'scope_spans[1]', 'spans[2]']`. */
  readonly path: string[] = [];

  constructor(readonly reason: string) {
    super(reason);
    this.name = 'DecodeError';
  }

  /** The path joined with dots, e.g. `resourceSpans[0].scopeSpans[0].spans[3]`; '' at the top level. */
  get location(): string {
    return this.path.join('.');
  }
}

/** Prepends `segment` to the path of a DecodeError passing through; returns the error to rethrow. */
export function atPath(err: unknown, segment: string): unknown {
  if (err instanceof DecodeError) err.path.unshift(segment);
  return err;
}
