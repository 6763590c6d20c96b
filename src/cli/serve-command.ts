import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadLedgerConfig } from '../config/ledger-config.js';
import { formatHostPort, LedgerServer, ListenerBindError, type ListenerBindFailure } from '../server/ledger-server.js';
import { CliUsageError, parsePort } from './cli-usage-error.js';
import { MappingFileWatcher } from '../server/mapping-file-watcher.js';
import type { LedgerWriteEvent } from '../../exporters/duckdb/duckdb-exporter.js';
import { OtlpForwarderConfig } from '../../exporters/otlp/config.js';
import { z } from 'zod';

/** `genai-ledger serve`: flags override the config file, which overrides the embedded defaults. */
export async function runServe(args: string[]): Promise<number> {
  const { values } = parseServeArgs(args);
  const config = await loadLedgerConfig(values.config);
  const http = config.receivers.otlp.http;
  const grpc = config.receivers.otlp.grpc;
  if (values.db !== undefined) config.exporters.duckdb.path = values.db;
  if (values.host !== undefined) http.host = grpc.host = values.host;
  http.port = parsePort('http-port', values['http-port']) ?? http.port;
  grpc.port = parsePort('grpc-port', values['grpc-port']) ?? grpc.port;
  if (values.teams !== undefined) config.attribution.teamsFile = values.teams;
  if (values.services !== undefined) config.attribution.servicesFile = values.services;
  if (values.prices !== undefined) config.pricing.overridesFile = values.prices;
  const prometheus = config.exporters.prometheus;
  if (values.host !== undefined) prometheus.host = config.sql.host = values.host;
  if (values['sql-port'] === 'off') config.sql.enabled = false;
  else {
    const port = parsePort('sql-port', values['sql-port']);
    if (port !== undefined) {
      config.sql.port = port;
      config.sql.enabled = true;
    }
  }
  if (values['metrics-port'] === 'off') prometheus.enabled = false;
  else {
    const port = parsePort('metrics-port', values['metrics-port']);
    if (port !== undefined) {
      prometheus.port = port;
      prometheus.enabled = true;
    }
  }
  (values.forward ?? []).forEach((endpoint, i) => {
    const name = i === 0 ? 'forward' : `forward-${i + 1}`;
    try {
      config.exporters.otlp[name] = OtlpForwarderConfig.parse({ endpoint });
    } catch (err) {
      throw new CliUsageError(`--forward ${endpoint}: ${err instanceof z.ZodError ? err.issues.map((i) => i.message).join('; ') : String(err)}`);
    }
  });

  const server = await LedgerServer.create(config, { onLedgerWriteEvent: logLedgerWriteEvent, log: (line) => console.error(`genai-ledger: ${line}`) });
  const warned = server.warnings.length;
  for (const warning of server.warnings) console.warn(`genai-ledger: warning: ${warning}`);
  console.log(`genai-ledger: prices ${server.priceSnapshot}`);
  try {
    // Binds the listeners before anything is created: a port in use leaves no ledger or key file behind.
    await server.start();
  } catch (err) {
    if (!(err instanceof ListenerBindError)) throw err;
    for (const failure of err.failures) console.error(`genai-ledger: ${bindFailureLine(failure)}`);
    return 1;
  }
  for (const warning of server.warnings.slice(warned)) console.warn(`genai-ledger: warning: ${warning}`);
  console.log(`genai-ledger: user ids ${server.userIds}`);
  for (const l of server.listeners) {
    const scheme = l.name === 'otlp/grpc' ? '' : l.name === 'sql' ? 'postgresql://' : l.tls ? 'https://' : 'http://';
    const host = l.host.includes(':') ? `[${l.host}]` : l.host;
    const path = l.name === 'metrics' ? '/metrics' : '';
    console.log(`genai-ledger: ${l.name} listening on ${scheme}${host}:${l.port}${path}${l.tls ? ' (TLS)' : ''}`);
  }
  for (const [name, forwarder] of Object.entries(config.exporters.otlp)) {
    console.log(`genai-ledger: forwarding ${forwarder.spans === 'all' ? 'every span' : 'GenAI spans'} to ${forwarder.endpoint} (otlp/${name})`);
  }
  // Last of the startup lines (tests and scripts wait for it).
  console.log(`genai-ledger: ledger ${resolve(config.exporters.duckdb.path)}`);
  const reloadMappings = serialized(reloadMappingFiles(server));
  const reloadPrices = serialized(reloadPriceOverrides(server));
  const stopReloading = reloadOnSighup((why) => {
    reloadMappings(why);
    reloadPrices(why);
  });
  const watcher = new MappingFileWatcher(
    [config.attribution.teamsFile, config.attribution.servicesFile],
    () => reloadMappings('mapping file changed'),
    config.attribution.reloadCheckIntervalMs,
  );
  if (config.attribution.reloadOnChange) watcher.start();
  const priceWatcher = new MappingFileWatcher(
    [config.pricing.overridesFile],
    () => reloadPrices('price overrides file changed'),
    config.pricing.reloadCheckIntervalMs,
  );
  if (config.pricing.reloadOnChange) priceWatcher.start();

  await new Promise<void>((done) => {
    const stop = (signal: NodeJS.Signals) => {
      console.log(`genai-ledger: ${signal} received; finishing accepted requests and closing the ledger`);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      // A second signal while draining forces an exit; what was acknowledged is already committed.
      const force = () => process.exit(130);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  stopReloading();
  watcher.stop();
  priceWatcher.stop();
  await server.shutdown();
  const stats = server.pipeline.stats;
  console.log(
    `genai-ledger: stopped; ${stats.requests} requests, ${stats.spansReceived} spans received, ${stats.rowsWritten} ledger rows written`,
  );
  return 0;
}

/** `OTLP/HTTP cannot listen on 127.0.0.1:4318: the port is already in use (…); use another with --http-port N …` */
function bindFailureLine(f: ListenerBindFailure): string {
  const flag = f.listener === 'otlp/http' ? '--http-port' : '--grpc-port';
  const change =
    f.code === 'EADDRNOTAVAIL'
      ? `use another address with --host H or ${f.hostKey} in the config file`
      : `use another port with ${flag} N or ${f.portKey} in the config file`;
  return `${f.label} cannot listen on ${formatHostPort(f.host, f.port)}: ${f.reason}; ${change}`;
}

/** One log line per change of the ledger's write health, never one per failed request. */
function logLedgerWriteEvent(event: LedgerWriteEvent): void {
  switch (event.kind) {
    case 'failing':
      console.error(
        `genai-ledger: ledger writes are failing: ${event.message}; exports are answered 503 / UNAVAILABLE with Retry-After ` +
          'until a write succeeds again (rows acknowledged so far are safe)',
      );
      break;
    case 'invalidated':
      console.error(
        `genai-ledger: ${event.message}; exports are answered 503 / UNAVAILABLE with Retry-After while genai-ledger reopens ` +
          'the file (rows acknowledged so far are safe in it and its write-ahead log)',
      );
      break;
    case 'recovered':
      console.log(`genai-ledger: ledger writes succeed again (${event.failedBatches} batch(es) were refused meanwhile and are for the clients to retry)`);
      break;
  }
}

/** Runs `task(why)` one at a time: a reload asked for while one runs starts after it. */
function serialized(task: (why: string) => Promise<void>): (why: string) => void {
  let running = Promise.resolve();
  return (why: string) => {
    running = running.then(() => task(why));
  };
}

/**
 * Reloads the mapping files. A bad new version is refused with its file/line/column problems and the
 * tables already in force stay in force; the server keeps running either way.
 */
function reloadMappingFiles(server: LedgerServer): (why: string) => Promise<void> {
  return async (why) => {
    try {
      const { teams, services } = await server.reloadMappings();
      console.log(`genai-ledger: ${why}: mapping files reloaded (teams: ${teams ?? 'none'}, services: ${services ?? 'none'})`);
    } catch (err) {
      console.error(`genai-ledger: ${why}: mapping files refused; the previous version stays in force:\n${(err as Error).message}`);
    }
  };
}

/**
 * Reloads the price overrides file (when one is configured). A bad new version is refused with its
 * file/line/key problems and the price book already in force stays in force.
 */
function reloadPriceOverrides(server: LedgerServer): (why: string) => Promise<void> {
  return async (why) => {
    try {
      const result = await server.reloadPrices();
      if (result === null) return;
      for (const warning of result.warnings) console.warn(`genai-ledger: warning: ${warning}`);
      console.log(`genai-ledger: ${why}: price overrides reloaded; prices ${result.snapshot}`);
    } catch (err) {
      console.error(`genai-ledger: ${why}: price overrides refused; the previous prices stay in force:\n${(err as Error).message}`);
    }
  };
}

/** SIGHUP reloads the mapping files and the price overrides. */
function reloadOnSighup(reload: (why: string) => void): () => void {
  const onHup = () => reload('SIGHUP');
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}

function parseServeArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        db: { type: 'string' },
        host: { type: 'string' },
        'http-port': { type: 'string' },
        'grpc-port': { type: 'string' },
        teams: { type: 'string' },
        services: { type: 'string' },
        prices: { type: 'string' },
        'metrics-port': { type: 'string' },
        'sql-port': { type: 'string' },
        forward: { type: 'string', multiple: true },
      },
    });
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
}
