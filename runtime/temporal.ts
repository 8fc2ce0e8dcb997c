import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { Config } from './config.js';

/**
 * Connection settings follow Temporal's environment configuration conventions (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_TLS*, TEMPORAL_API_KEY, TEMPORAL_PROFILE and the TOML profile file),
 * so a worker here connects exactly as the `temporal` CLI would with the same environment.
 */
export function temporalConnectionOptions(config: Config): NativeConnectionOptions {
  const { connectionOptions } = loadClientConnectConfig({ overrideEnvVars: config.temporal.env });
  return { ...connectionOptions, address: config.temporal.address ?? connectionOptions.address };
}

/** A client that connects on first use, so the API can start (and report not ready) while Temporal is down. */
export function createTemporalClient(config: Config): { client: Client; connection: Connection } {
  const connection = Connection.lazy(temporalConnectionOptions(config) as ConnectionOptions);
  const client = new Client({ connection, namespace: config.temporal.namespace });
  return { client, connection };
}
