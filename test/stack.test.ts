import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { launchChromium } from './helpers/browser.js';
import { freePort } from './helpers/ports.js';
import { descendants, isAlive } from './helpers/processes.js';
import {
  signInForDecoding,
  useCodecEndpointWithCredentials,
  workflowPageText,
} from './helpers/temporalUi.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

interface RunningStack {
  npm: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startStack(env: NodeJS.ProcessEnv): Promise<RunningStack> {
  // Its own process group, like a shell job: a "Ctrl-C" is then SIGINT to the whole group.
  const npm = spawn('npm', ['start'], { cwd: REPO, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  npm.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  npm.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start not ready after 150 s:\n${output}`)), 150_000);
    npm.stdout?.on('data', () => {
      if (output.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer);
        resolve({ npm, output: () => output, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${output}`));
    });
  });
}

async function waitForExit(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await sleep(200);
  }
}

describe('npm start', () => {
  let dataDir = '';
  const leftovers: number[] = [];
  afterAll(async () => {
    for (const pid of leftovers.filter(isAlive)) process.kill(pid, 'SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('runs the whole stack, stops without leaving a process behind, and finds its data again', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'flowdesk-stack-'));
    // An ordinary folder, as a project checkout would be (mkdtemp makes it private to its owner).
    await chmod(dataDir, 0o755);
    const ports = {
      PORT: await freePort(),
      TEMPORAL_DEV_PORT: await freePort(),
      TEMPORAL_UI_PORT: await freePort(),
      WORKER_METRICS_PORT: await freePort(),
      EMBEDDED_POSTGRES_PORT: await freePort(),
      STRIPE_MOCK_PORT: await freePort(),
    };
    const {
      DATABASE_URL: _db,
      TEMPORAL_ADDRESS: _temporal,
      STRIPE_SECRET_KEY: _key,
      STRIPE_WEBHOOK_SECRET: _secret,
      STRIPE_API_URL: _stripeApi,
      ...inherited
    } = process.env;
    const env = {
      ...inherited,
      DATA_DIR: dataDir,
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    };
    const apiUrl = `http://127.0.0.1:${ports.PORT}`;
    const supervisorLog = () => readFile(path.join(dataDir, 'logs', 'start.log'), 'utf8');
    const temporalUi = `http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`;

    const first = await startStack(env);
    const pids = descendants(first.npm.pid as number);
    leftovers.push(...pids);
    expect(pids.length).toBeGreaterThanOrEqual(5);
    const banner = first.output();
    for (const url of [
      apiUrl,
      `${apiUrl}/docs`,
      `${apiUrl}/openapi.json`,
      temporalUi,
      `http://127.0.0.1:${ports.WORKER_METRICS_PORT}/metrics`,
    ]) {
      expect(banner).toContain(url);
    }
    expect(banner).toContain(
      `signed with the development secret in ${path.join(dataDir, 'stripe-webhook-secret')}`,
    );
    const key = (await readFile(path.join(dataDir, 'demo-api-key'), 'utf8')).trim();
    expect(key).toMatch(/^fdk_/);
    // The key is kept in its 0600 file and nowhere else: not on the screen, not in the start log.
    expect(banner).toMatch(new RegExp(`Demo API key\\s+in ${path.join(dataDir, 'demo-api-key')}`));
    expect(banner).not.toContain(key);
    expect(await supervisorLog()).not.toContain(key);
    // The first console account's one-time link is in its file too, and opens the page that sets its password.
    const invitation = (await readFile(path.join(dataDir, 'console-invitation'), 'utf8')).trim();
    expect(banner).toContain(`${apiUrl}/console`);
    expect(banner).not.toContain(invitation);
    expect((await fetch(invitation)).status).toBe(200);
    for (const secret of [
      'demo-api-key',
      'console-invitation',
      'payload-keys',
      'signing-secret',
      'stripe-webhook-secret',
      'courier-webhook-secret',
    ])
      expect((await stat(path.join(dataDir, secret))).mode & 0o777, secret).toBe(0o600);
    // The Temporal UI decodes payloads through Flowdesk's codec endpoint, which answers staff only.
    const uiSettings = (await (await fetch(`${temporalUi}/api/v1/settings`)).json()) as {
      Codec: { Endpoint: string };
    };
    expect(uiSettings.Codec.Endpoint).toBe(`${apiUrl}/codec`);
    const encoded = { payloads: [{ metadata: { encoding: btoa('json/plain') }, data: btoa('"x"') }] };
    type Payloads = { payloads: { metadata: Record<string, string>; data: string }[] };
    const codec = async (direction: string, body: Payloads, authorization?: string) =>
      fetch(`${apiUrl}/codec/${direction}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization && { authorization }) },
        body: JSON.stringify(body),
      });
    expect((await codec('encode', encoded)).status).toBe(401);
    const sealed = (await (await codec('encode', encoded, `Bearer ${key}`)).json()) as Payloads;
    expect(atob(sealed.payloads[0]?.metadata.encoding ?? '')).toBe('binary/encrypted');
    expect((await codec('decode', sealed)).status).toBe(401);
    expect(await (await codec('decode', sealed, `Bearer ${key}`)).json()).toEqual(encoded);

    // The demos drive a proposal to payment (signing link, payment link, Stripe webhook) and a whole project. Then
    // nothing secret is in any log, and what is kept on disk is its owner's alone.
    const demo = spawnSync('npm', ['run', 'demo'], { cwd: REPO, env, encoding: 'utf8', timeout: 120_000 });
    expect(demo.status, demo.stdout + demo.stderr).toBe(0);
    // And a whole project, from an architect's lead to the closed project.
    const project = spawnSync('npm', ['run', 'demo:install'], {
      cwd: REPO,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(project.status, project.stdout + project.stderr).toBe(0);
    expect(project.stdout).toMatch(/done: project LEAD-\d+ is closed\. Temporal UI: http/);
    // And a hardware order, from draft to delivered by the courier simulator, with its automation steps.
    expect(banner).toMatch(/Courier tracking\s+the courier simulator at http:\/\/127\.0\.0\.1:\d+/);
    const hardware = spawnSync('npm', ['run', 'demo:fulfillment'], {
      cwd: REPO,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(hardware.status, hardware.stdout + hardware.stderr).toBe(0);
    expect(hardware.stdout).toMatch(/automation sensor_partner_first_time: completed/);
    expect(hardware.stdout).toMatch(/done: order ORD-\d{4}-\d{6} is delivered\. Temporal UI: http/);
    // And status analytics: a KeyCRM project (the CRM simulator) and the flows above, from one status log.
    const analytics = spawnSync('npm', ['run', 'demo:analytics'], {
      cwd: REPO,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(analytics.status, analytics.stdout + analytics.stderr).toBe(0);
    expect(analytics.stdout).toMatch(/items fetched: 2 of 12 orders are urgent/);
    expect(analytics.stdout).toMatch(/KPIs since \S+: 12 orders \(10 normal, 2 urgent\)/);
    expect(analytics.stdout).toMatch(/Lead → Lock: 1 completed/);
    const secrets = await Promise.all(
      [
        'demo-api-key',
        'console-invitation',
        'payload-keys',
        'signing-secret',
        'stripe-webhook-secret',
        'courier-webhook-secret',
      ].map(async (file) => (await readFile(path.join(dataDir, file), 'utf8')).trim()),
    );
    for (const folder of ['logs', 'outbox', 'temporal'])
      expect((await stat(path.join(dataDir, folder))).mode & 0o777, folder).toBe(0o700);
    for (const folder of ['logs', 'outbox'])
      for (const file of await readdir(path.join(dataDir, folder)))
        expect((await stat(path.join(dataDir, folder, file))).mode & 0o777, file).toBe(0o600);
    for (const file of await readdir(path.join(dataDir, 'logs'))) {
      const log = await readFile(path.join(dataDir, 'logs', file), 'utf8');
      for (const secret of [...secrets, ...secrets.map((value) => value.split(':').at(-1) ?? value)])
        expect(log.includes(secret), `${file} holds a secret`).toBe(false);
      expect(log, file).not.toMatch(/token=[\w-]{8,}|fdk_[0-9a-f]{12}_|whsec_|crmhook_|sk_test_flowdesk/);
    }

    const api = apiClient(apiUrl, key);
    // Automation steps reach the legacy-system simulator npm start runs in place of the real one.
    expect(banner).toMatch(/Legacy system\s+the legacy-system simulator at http:\/\/127\.0\.0\.1:\d+/);
    const automation = await api.post('/v1/automation-steps', {
      shipmentItemId: 'STACK-ITEM-1',
      scenario: 'sensor_vendor_first_time',
      device: { serial: 'SN-STACK-1', model: 'TempSense 3', companyId: 'ACME', assetId: 'ASSET-1' },
    });
    expect(automation.status, automation.text).toBe(201);
    await expect
      .poll(async () => (await api.get(`/v1/automation-steps/${automation.body.stepId}`)).body.state, {
        timeout: 20_000,
      })
      .toBe('completed');

    // Staff read a flow in the Temporal UI: encrypted until they sign in at /codec/session with a coordinator's
    // key, decoded while the key works, encrypted again the moment it is revoked.
    const flowInUi = /Temporal UI: (http\S+)/.exec(demo.stdout)?.[1] ?? '';
    expect(flowInUi).toContain(temporalUi);
    const ops = await api.post('/v1/api-keys', { name: 'Ops in the Temporal UI', roles: ['coordinator'] });
    expect(ops.status, ops.text).toBe(201);
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1400, height: 1400 } })).newPage();
      await page.goto(flowInUi);
      await useCodecEndpointWithCredentials(page, `${apiUrl}/codec`);
      const unsigned = await workflowPageText(page, flowInUi);
      expect(unsigned).toContain('encryption-key-id');
      expect(unsigned).not.toContain('Ada Lovelace');
      expect(await signInForDecoding(page, apiUrl, 'fdk_000000000000_not-a-key')).toContain('not a valid');
      expect(await signInForDecoding(page, apiUrl, ops.body.key)).toContain(
        'Signed in as Ops in the Temporal UI',
      );
      // Under load the UI may give up on a slow codec answer and show the payloads as they are: a person reloads.
      const codecAnswers: number[] = [];
      page.on('response', (response) => {
        if (response.url().endsWith('/codec/decode')) codecAnswers.push(response.status());
      });
      let decoded = '';
      for (let load = 0; load < 3 && !decoded.includes('Ada Lovelace'); load++)
        decoded = await workflowPageText(page, flowInUi, 'Ada Lovelace');
      expect(decoded, `the codec answered ${codecAnswers.join(', ')}`).toContain('Ada Lovelace');
      expect(decoded).not.toContain('encryption-key-id');
      expect((await api.post(`/v1/api-keys/${ops.body.id}/revoke`, {})).status).toBe(200);
      const revoked = await workflowPageText(page, flowInUi);
      expect(revoked).toContain('encryption-key-id');
      expect(revoked).not.toContain('Ada Lovelace');
    } finally {
      await browser.close();
    }
    expect((await api.get('/readyz')).body.status).toBe('ready');
    expect((await api.get('/docs')).status).toBe(200);
    expect((await api.get('/openapi.json')).body.openapi).toBe('3.1.0');
    expect((await api.get('/v1/me')).body).toMatchObject({ tenant: 'demo', roles: ['admin'] });
    expect((await fetch(temporalUi)).status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${ports.WORKER_METRICS_PORT}/metrics`)).text()).toMatch(
      /^temporal_/m,
    );

    // A workflow started before the restart must still be there after it (file-backed Temporal state).
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.TEMPORAL_DEV_PORT}` });
    const workflowId = 'restart-survivor';
    await new Client({ connection }).workflow.start('parkedUntilTheRestart', {
      taskQueue: 'nobody-polls-this',
      workflowId,
    });
    await connection.close();

    process.kill(first.npm.pid as number, 'SIGTERM');
    await first.exited;
    expect(await waitForExit(pids, 30_000)).toEqual([]);
    expect(await supervisorLog()).toMatch(/Stopping Flowdesk \(SIGTERM\)…\n.*Stopped\.\n$/);

    // Again with a Stripe test-mode key and the Stripe CLI (a stand-in: Stripe is out of reach here): stripe
    // listen runs, the API takes its signing secret, and the event it forwards is accepted.
    const second = await startStack({
      ...env,
      STRIPE_SECRET_KEY: 'sk_test_standin',
      STRIPE_CLI: path.join(REPO, 'test/fixtures/stripeCliStandIn.mjs'),
    });
    const secondPids = descendants(second.npm.pid as number);
    leftovers.push(...secondPids);
    // The key file is still there: no second demo key.
    expect((await readFile(path.join(dataDir, 'demo-api-key'), 'utf8')).trim()).toBe(key);
    expect(second.output()).toContain(`stripe listen → ${apiUrl}/webhooks/stripe`);
    const listenLog = path.join(dataDir, 'logs', 'stripe-listen.log');
    for (const deadline = Date.now() + 30_000; ; await sleep(200)) {
      const said = await readFile(listenLog, 'utf8').catch(() => '');
      const answer = /<--\s+\[(\d+)\] POST/.exec(said)?.[1];
      if (answer) {
        expect(answer).toBe('200');
        break;
      }
      if (Date.now() > deadline) throw new Error(`stripe listen forwarded nothing: ${said}`);
    }
    expect((await apiClient(apiUrl, key).get('/v1/me')).status).toBe(200);
    const again = await Connection.connect({ address: `127.0.0.1:${ports.TEMPORAL_DEV_PORT}` });
    const description = await new Client({ connection: again }).workflow.getHandle(workflowId).describe();
    expect(description.status.name).toBe('RUNNING');
    await again.close();

    process.kill(-(second.npm.pid as number), 'SIGINT');
    await second.exited;
    expect(await waitForExit(secondPids, 30_000)).toEqual([]);
    expect(await supervisorLog()).toMatch(/Stopping Flowdesk \(SIGINT\)…\n.*Stopped\.\n$/);
  }, 360_000);
});
