import { inject } from 'vitest';
import { type Config, loadConfig } from '../../runtime/config.js';
import { flowdeskDataConverter, parsePayloadKeys } from '../../runtime/payloadCodec.js';

/** The tests' payload key (the recorded histories under test/histories are encrypted with it too). */
export const TEST_PAYLOAD_KEYS = 'test-1:DSMXQiii+s+3ss02m0hFvFld1el7+gIcNKPyWp6aq68=';

/** How the tests' clients and workers write to Temporal: as Flowdesk does, with the test key. */
export function testDataConverter() {
  const keys = parsePayloadKeys(TEST_PAYLOAD_KEYS);
  if (typeof keys === 'string') throw new Error(keys);
  return flowdeskDataConverter(keys);
}

/** The environment a Flowdesk process would get in this test run: the run's Temporal server and database. */
export function testEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: inject('databaseUrl'),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_NAMESPACE: inject('temporalNamespace'),
    LOG_LEVEL: 'silent',
    SIGNING_SECRET: 'test-signing-secret-0123456789abcdef',
    PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
    // The supplier simulator runs on this machine.
    SUPPLIER_URLS_ALLOW_LOOPBACK: 'true',
    // Outside CRMs are synced where a test says so (test/analytics.test.ts), not by every worker of the run.
    CRM_SYNC_SECONDS: '86400',
    ...extra,
  };
}

export function testConfig(extra: Record<string, string> = {}): Config {
  const result = loadConfig(testEnvironment(extra));
  if (!result.ok) throw new Error(`test configuration is invalid: ${result.errors.join('; ')}`);
  return result.config;
}
