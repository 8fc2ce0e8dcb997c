import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { type Config, requireSetting } from './config.js';
import { flowdeskDataConverter } from './payloadCodec.js';

/**
 * Connection settings follow Temporal's environment configuration conventions (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_TLS*, TEMPORAL_API_KEY, TEMPORAL_PROFILE and the TOML profile file),
 * so a worker here connects exactly as the `temporal` CLI would with the same environment.
 */
export function temporalConnectionOptions(config: Config): NativeConnectionOptions {
  const { connectionOptions } = loadClientConnectConfig({ overrideEnvVars: config.temporal.env });
  return { ...connectionOptions, address: config.temporal.address ?? connectionOptions.address };
}

/** Flowdesk's data converter with the configured keys; a process without PAYLOAD_KEYS does not start. */
export function temporalDataConverter(config: Config) {
  return flowdeskDataConverter(requireSetting(config.temporal.payloadKeys, 'PAYLOAD_KEYS'));
}

/** A client that connects on first use, so the API can start (and report not ready) while Temporal is down. */
export function createTemporalClient(config: Config): { client: Client; connection: Connection } {
  const connection = Connection.lazy(temporalConnectionOptions(config) as ConnectionOptions);
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: temporalDataConverter(config),
  });
  return { client, connection };
}

export interface TemporalProbe {
  /** Resolves when the namespace answers before the deadline. */
  check(deadline: number): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Readiness asks "is Temporal reachable now?", so its connection has no retry interceptor: retries
 * would only hide the answer, and a retry timer still pending when the API stops fires on a closed channel.
 */
export function createTemporalProbe(config: Config): TemporalProbe {
  const connection = Connection.lazy({
    ...(temporalConnectionOptions(config) as ConnectionOptions),
    interceptors: [],
  });
  return {
    check: (deadline) =>
      connection.withDeadline(deadline, () =>
        connection.workflowService.describeNamespace({ namespace: config.temporal.namespace }),
      ),
    close: () => connection.close(),
  };
}
