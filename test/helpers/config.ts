import { inject } from 'vitest';
import { type Config, loadConfig } from '../../runtime/config.js';

/** The environment a Flowdesk process would get in this test run: the run's Temporal server and database. */
export function testEnvironment(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: inject('databaseUrl'),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_NAMESPACE: inject('temporalNamespace'),
    LOG_LEVEL: 'silent',
    SIGNING_SECRET: 'test-signing-secret-0123456789abcdef',
    ...extra,
  };
}

export function testConfig(extra: Record<string, string> = {}): Config {
  const result = loadConfig(testEnvironment(extra));
  if (!result.ok) throw new Error(`test configuration is invalid: ${result.errors.join('; ')}`);
  return result.config;
}
