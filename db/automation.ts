import { type Kysely, sql } from 'kysely';
import type { AutomationDevice, ScenarioConfig } from '../domain/automation.schema.js';
import type { Actor } from '../domain/flow.js';
import { appendEvent } from './events.js';
import type { Database } from './schema.js';

/**
 * Automation steps and their scenarios: the one place a step's state is written, each change with its event.
 * Scenarios the tenant has not configured run with the defaults below.
 */

const FIRST_TIME: ScenarioConfig['operations'] = ['registerDevice', 'assignToAsset', 'updateMirror'];
const REPLACEMENT: ScenarioConfig['operations'] = [
  'registerDevice',
  'removeFromAsset',
  'assignToAsset',
  'updateMirror',
];
const retries = { maxAttempts: 5, retryDelaySeconds: 30, timeoutSeconds: 30 };

export const DEFAULT_SCENARIOS: Record<string, ScenarioConfig> = {
  sensor_vendor_first_time: {
    operations: FIRST_TIME,
    ...retries,
    fallbackDescription:
      'In the legacy console: register the sensor under the company, assign it to the asset, sync the company.',
  },
  sensor_partner_first_time: {
    operations: FIRST_TIME,
    ...retries,
    fallbackDescription:
      "In the partner portal: register the sensor with the partner's channel, assign it, sync the company.",
  },
  sensor_vendor_replacement: {
    operations: REPLACEMENT,
    ...retries,
    fallbackDescription:
      'In the legacy console: register the new sensor, take the old one off the asset, assign the new one, sync.',
  },
  sensor_partner_replacement: {
    operations: REPLACEMENT,
    ...retries,
    fallbackDescription:
      'In the partner portal: register the new sensor, swap it for the old one on the asset, sync the company.',
  },
  sensor_return: {
    operations: ['removeFromAsset', 'updateMirror'],
    ...retries,
    fallbackDescription:
      'In the legacy console: take the returned sensor off its asset and sync the company.',
  },
};

/** A scenario's configuration: the tenant's own, else the default; undefined for a scenario nobody configured. */
export async function scenarioConfig(
  db: Kysely<Database>,
  tenantId: string,
  scenario: string,
): Promise<ScenarioConfig | undefined> {
  const row = await db
    .selectFrom('automation_scenarios')
    .select('config')
    .where('tenant_id', '=', tenantId)
    .where('scenario', '=', scenario)
    .executeTakeFirst();
  return (row?.config as ScenarioConfig | undefined) ?? DEFAULT_SCENARIOS[scenario];
}

/** Every scenario the tenant can run: the defaults, with its own configuration where it has one. */
export async function listScenarios(
  db: Kysely<Database>,
  tenantId: string,
): Promise<Array<{ scenario: string; config: ScenarioConfig; configured: boolean }>> {
  const rows = await db
    .selectFrom('automation_scenarios')
    .select(['scenario', 'config'])
    .where('tenant_id', '=', tenantId)
    .execute();
  const own = new Map(rows.map((row) => [row.scenario, row.config as ScenarioConfig]));
  const names = [...new Set([...Object.keys(DEFAULT_SCENARIOS), ...own.keys()])].sort();
  return names.map((scenario) => ({
    scenario,
    config: own.get(scenario) ?? (DEFAULT_SCENARIOS[scenario] as ScenarioConfig),
    configured: own.has(scenario),
  }));
}

export async function saveScenario(
  db: Kysely<Database>,
  input: { tenantId: string; scenario: string; config: ScenarioConfig; actor: Actor; requestId: string },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('automation_scenarios')
      .values({ tenant_id: input.tenantId, scenario: input.scenario, config: JSON.stringify(input.config) })
      .onConflict((oc) =>
        oc
          .columns(['tenant_id', 'scenario'])
          .doUpdateSet({ config: JSON.stringify(input.config), updated_at: sql`now()` }),
      )
      .execute();
    await appendEvent(trx, {
      tenantId: input.tenantId,
      type: 'automation.scenario.saved',
      actor: input.actor,
      entity: { type: 'automation_scenario', id: input.scenario },
      payload: { ...input.config },
      idempotencyKey: `automation_scenario/${input.tenantId}/${input.scenario}/${input.requestId}`,
    });
  });
}

/** The step's row, `pending`; a step of that item and scenario recorded before writes nothing. */
export async function createAutomationStep(
  trx: Kysely<Database>,
  step: {
    id: string;
    tenantId: string;
    shipmentItemId: string;
    scenario: string;
    device: AutomationDevice;
    flowId: string;
  },
): Promise<void> {
  await trx
    .insertInto('automation_steps')
    .values({
      id: step.id,
      tenant_id: step.tenantId,
      shipment_item_id: step.shipmentItemId,
      scenario: step.scenario,
      state: 'pending',
      device: JSON.stringify(step.device),
      flow_id: step.flowId,
    })
    .onConflict((oc) => oc.columns(['tenant_id', 'shipment_item_id', 'scenario']).doNothing())
    .execute();
}

/** The id a step of this item and scenario has, or will have. */
export async function automationStepId(
  db: Kysely<Database>,
  tenantId: string,
  shipmentItemId: string,
  scenario: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('automation_steps')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('shipment_item_id', '=', shipmentItemId)
    .where('scenario', '=', scenario)
    .executeTakeFirst();
  return row?.id;
}

export type AutomationState =
  | 'running'
  | 'retrying'
  | 'failed'
  | 'completed'
  | 'fallback_triggered'
  | 'cancelled';

/**
 * A step's new state, with its event when it is one people act on (`automation.step_failed`,
 * `…completed`, `…fallback_triggered`), once per `occurrence`.
 */
export async function recordAutomationState(
  db: Kysely<Database>,
  input: {
    tenantId: string;
    stepId: string;
    state: AutomationState;
    attempts?: number;
    error?: string;
    deviceId?: string;
    notes?: string;
    actor: Actor;
    occurrence: string;
  },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const step = await trx
      .updateTable('automation_steps')
      .set({
        state: input.state,
        updated_at: sql`now()`,
        ...(input.attempts === undefined ? {} : { attempts: input.attempts }),
        ...(input.error === undefined ? {} : { last_error: input.error }),
        ...(input.deviceId === undefined ? {} : { device_id: input.deviceId }),
        ...(input.notes === undefined ? {} : { fallback_notes: input.notes }),
      })
      .where('tenant_id', '=', input.tenantId)
      .where('id', '=', input.stepId)
      .returning(['id', 'shipment_item_id', 'scenario', 'flow_id'])
      .executeTakeFirstOrThrow();
    if (!['failed', 'completed', 'fallback_triggered'].includes(input.state)) return;
    await appendEvent(trx, {
      tenantId: input.tenantId,
      type:
        input.state === 'failed'
          ? 'automation.step_failed'
          : `automation.${input.state === 'completed' ? 'step_completed' : 'fallback_triggered'}`,
      actor: input.actor,
      entity: { type: 'automation_step', id: step.id },
      flowId: step.flow_id,
      payload: {
        shipmentItemId: step.shipment_item_id,
        scenario: step.scenario,
        attempts: input.attempts,
        error: input.error,
        deviceId: input.deviceId,
        notes: input.notes,
      },
      idempotencyKey: `automation_step/${step.id}/${input.state}/${input.occurrence}`,
    });
  });
}
