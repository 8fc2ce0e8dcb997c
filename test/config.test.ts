import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../runtime/config.js';

describe('configuration', () => {
  it('has working defaults for an empty environment', () => {
    const result = loadConfig({});
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.api).toEqual({
      host: '127.0.0.1',
      port: 3000,
      publicUrl: 'http://127.0.0.1:3000',
      decisionWaitMs: 15_000,
      metrics: { port: undefined, token: undefined },
      webhookPayloadDays: 30,
      rateLimits: { perKey: 600, perAddress: 60 },
      trustedProxies: [],
    });
    expect(result.config.temporal).toMatchObject({
      namespace: 'default',
      taskQueue: 'flowdesk',
      uiUrl: 'http://127.0.0.1:8233',
    });
    expect(result.config.database.url).toBeUndefined();
    expect(result.config.dataDir).toBe(path.resolve('data'));
  });

  it('reads every setting it is given', () => {
    const result = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db.example:5432/flowdesk',
      TEMPORAL_ADDRESS: 'temporal.example:7233',
      TEMPORAL_NAMESPACE: 'prod.acme',
      TEMPORAL_TLS: 'true',
      TEMPORAL_API_KEY: 'secret',
      SMTP_URL: 'smtps://user:pass@mail.example:465',
      STRIPE_SECRET_KEY: 'sk_test_abc',
      LOG_LEVEL: 'debug',
      TRUSTED_PROXIES: '10.0.0.1, 192.168.0.0/16,::1',
      RATE_LIMIT_PER_KEY: '0',
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.api.port).toBe(8080);
    expect(result.config.api.trustedProxies).toEqual(['10.0.0.1', '192.168.0.0/16', '::1']);
    expect(result.config.api.rateLimits).toEqual({ perKey: 0, perAddress: 60 });
    expect(result.config.temporal.address).toBe('temporal.example:7233');
    expect(result.config.temporal.env).toMatchObject({ TEMPORAL_TLS: 'true', TEMPORAL_API_KEY: 'secret' });
    expect(result.config.email.smtpUrl).toBe('smtps://user:pass@mail.example:465');
  });

  it('names each bad variable and says what is wrong with it', () => {
    const result = loadConfig({
      PORT: 'eighty',
      DATABASE_URL: 'mysql://flowdesk:hunter2@localhost/flowdesk',
      TEMPORAL_ADDRESS: 'http://localhost:7233',
      TEMPORAL_TLS: 'maybe',
      TEMPORAL_TLS_CLIENT_CERT_PATH: '/nonexistent/client.pem',
      LOG_LEVEL: 'loud',
      SMTP_URL: 'not a url',
      STRIPE_SECRET_KEY: 'pk_live_123',
      DOCUSIGN_CONNECT_SECRET: 'short-secret',
      SIGNING_SECRET: 'too-short-secret',
      PAYLOAD_KEYS: 'k1:c2hvcnQ=',
      WORKER_METRICS_PORT: '70000',
      TRUSTED_PROXIES: 'the load balancer',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    // Secret values are named, never shown.
    for (const secret of ['pk_live_123', 'short-secret', 'too-short-secret', 'c2hvcnQ=', 'hunter2'])
      expect(result.errors.join('\n')).not.toContain(secret);
    expect(result.errors.sort()).toEqual(
      [
        'DATABASE_URL="mysql://flowdesk:<redacted>@localhost/flowdesk": must be a URL starting with postgres:// or postgresql://',
        'LOG_LEVEL="loud": must be one of fatal, error, warn, info, debug, trace, silent',
        'PORT="eighty": must be a port number',
        'SMTP_URL="not a url": must be a URL starting with smtp:// or smtps://',
        'STRIPE_SECRET_KEY=<redacted>: must be a Stripe secret key (sk_…)',
        'DOCUSIGN_CONNECT_SECRET=<redacted>: must be a DocuSign Connect HMAC key',
        'SIGNING_SECRET=<redacted>: must be at least 32 characters',
        'PAYLOAD_KEYS=<redacted>: key "k1" must be 32 bytes, base64-encoded (openssl rand -base64 32)',
        'TEMPORAL_ADDRESS="http://localhost:7233": must be host:port, for example 127.0.0.1:7233',
        'TEMPORAL_TLS="maybe": must be true or false',
        'TEMPORAL_TLS_CLIENT_CERT_PATH="/nonexistent/client.pem": names a file that does not exist',
        'WORKER_METRICS_PORT="70000": must be a port number from 1 to 65535',
        'TRUSTED_PROXIES="the load balancer": must be IP addresses or CIDR ranges, comma-separated',
      ].sort(),
    );
  });

  it('treats an empty variable as unset', () => {
    const result = loadConfig({ PORT: '', DATABASE_URL: '' });
    expect(result.ok && result.config.api.port).toBe(3000);
  });

  it('stops a process with one line per bad variable and a non-zero exit code', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
      env: { PATH: process.env.PATH, PORT: '-1', TEMPORAL_TLS: 'sometimes' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(78);
    expect(run.stderr.trim().split('\n')).toEqual([
      'Flowdesk cannot start: the configuration is invalid.',
      'PORT="-1": must be a port number from 1 to 65535',
      'TEMPORAL_TLS="sometimes": must be true or false',
    ]);
  });
});
