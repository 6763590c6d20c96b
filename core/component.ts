/**
 * The lifecycle every long-lived component follows (as in the OpenTelemetry Collector):
 * `start` acquires resources; `shutdown` flushes what it holds and releases them, and is safe to call
 * without `start` and more than once.
 */
export interface Component {
  start(): Promise<void>;
  shutdown(): Promise<void>;
}
