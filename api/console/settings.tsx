import type { z } from '@hono/zod-openapi';
import type { Hono } from 'hono';
import { readSla, readWorkingHours, saveSla, saveWorkingHours } from '../../db/analytics/settings.js';
import { listSources } from '../../db/analytics/sources.js';
import { listScenarios, saveScenario } from '../../db/automation.js';
import { catalogueView, listCatalogue, saveCatalogueItem } from '../../db/catalogue.js';
import { listCouriers, saveCourier } from '../../db/couriers.js';
import type { StaffSession } from '../../db/staff.js';
import { SlaSettings, WorkingHoursSettings } from '../../domain/analytics.schema.js';
import { ScenarioConfig, ScenarioName } from '../../domain/automation.schema.js';
import { CatalogueItem } from '../../domain/catalogue.schema.js';
import { CourierCode, CourierSettings } from '../../domain/company.schema.js';
import type { Actor } from '../../domain/flow.js';
import { SupplierCode, SupplierSettings } from '../../domain/supplier.js';
import type { ApiDeps } from '../context.js';
import { listSuppliers, saveSupplier } from '../supplierSettings.js';
import { CsrfField, Layout } from './layout.js';
import { Field, type FormField, firstProblem, formFields, formValues, readForm } from './schemaForm.js';
import { type ConsoleEnv, staffActor } from './session.js';

/**
 * Settings pages for admins: each a list of what is set and a form over the admin API's own schema and service
 * (the same validation, the same audit event), so a setting changed here is exactly one changed through the API.
 * Entries are keyed (a supplier by its code); working hours and SLA grids are one whole object per status source.
 */
type Deps = Pick<ApiDeps, 'db' | 'config' | 'secrets'>;
interface Who {
  tenantId: string;
  actor: Actor;
  requestId: string;
}
type Saved = { field: string; message: string } | undefined;

interface Setting {
  path: string;
  label: string;
  about: string;
  /** What names an entry, and the schema a new one's must match; none: one of the entries listed (a source). */
  key: { label: string; schema?: z.ZodType };
  schema: z.ZodType;
  /** Fields under `value.` the key already gives (a courier's `code`), left out of the form. */
  keyInValue?: string;
  secrets?: string[];
  list(deps: Deps, tenantId: string): Promise<{ key: string; summary: string; value: unknown }[]>;
  save(deps: Deps, who: Who, key: string, value: never): Promise<Saved>;
}

const SETTINGS: Setting[] = [
  {
    path: 'suppliers',
    label: 'Suppliers',
    about:
      'Who produces what, how orders reach them, and how they answer. Credentials and secrets are write-only.',
    key: { label: 'Code', schema: SupplierCode },
    schema: SupplierSettings,
    secrets: ['credentials', 'webhookSecret'],
    list: async (deps, tenantId) =>
      (await listSuppliers(deps.db, tenantId)).map((row) => ({
        key: row.code,
        summary: `${row.name} (${row.protocol})`,
        value: {
          name: row.name,
          protocol: row.protocol,
          baseUrl: row.base_url ?? undefined,
          orderEmail: row.order_email,
          capabilities: row.capabilities,
          pollEvery: row.poll_every,
          leadTime: row.lead_time,
        },
      })),
    save: async (deps, who, key, value: SupplierSettings) => {
      const saved = await saveSupplier(deps, who, key, value);
      return 'field' in saved ? saved : undefined;
    },
  },
  {
    path: 'couriers',
    label: 'Couriers',
    about: 'The couriers shipments go with, their tracking pages, and how their news arrives.',
    key: { label: 'Code', schema: CourierCode },
    schema: CourierSettings,
    keyInValue: 'code',
    list: async (deps, tenantId) =>
      (await listCouriers(deps.db, tenantId)).map((courier) => ({
        key: courier.code,
        summary: `${courier.name} (${courier.adapter})`,
        value: courier,
      })),
    save: async (deps, who, key, value: CourierSettings) => {
      await saveCourier(deps.db, { ...value, code: key, ...who });
      return undefined;
    },
  },
  {
    path: 'automation-scenarios',
    label: 'Automation scenarios',
    about: 'How hard each automation step tries, and what people do by hand when trying is over.',
    key: { label: 'Scenario', schema: ScenarioName },
    schema: ScenarioConfig,
    list: async (deps, tenantId) =>
      (await listScenarios(deps.db, tenantId)).map((scenario) => ({
        key: scenario.scenario,
        summary: `${scenario.config.maxAttempts} attempts${scenario.configured ? '' : ' (default)'}`,
        value: scenario.config,
      })),
    save: async (deps, who, key, value: ScenarioConfig) => {
      await saveScenario(deps.db, { ...who, scenario: key, config: value });
      return undefined;
    },
  },
  {
    path: 'catalogue',
    label: 'Catalogue',
    about: 'What customers choose from in the configurator, its price, and who produces it.',
    key: { label: 'SKU', schema: CatalogueItem.shape.sku },
    schema: CatalogueItem,
    keyInValue: 'sku',
    list: async (deps, tenantId) =>
      (await listCatalogue(deps.db, tenantId)).map((row) => {
        const item = catalogueView(row);
        return { key: item.sku, summary: `${item.name} (${item.kind}, ${item.supplier})`, value: item };
      }),
    save: async (deps, who, key, value: CatalogueItem) => {
      const saved = await saveCatalogueItem(deps.db, { ...who, item: { ...value, sku: key } });
      return saved
        ? undefined
        : { field: 'value.supplier', message: `no supplier ${value.supplier} in this tenant` };
    },
  },
  ...(
    [
      {
        path: 'working-hours',
        label: 'Working hours',
        about: 'Per status group (`*`: the default), the hours that count as working time, and holidays.',
        schema: WorkingHoursSettings,
        read: readWorkingHours,
        save: saveWorkingHours,
      },
      {
        path: 'sla',
        label: 'SLA grids',
        about: 'Per profile and status group, how long a stay may last (hours:minutes), normal and urgent.',
        schema: SlaSettings,
        read: readSla,
        save: saveSla,
      },
    ] as const
  ).map(
    (part): Setting => ({
      path: part.path,
      label: part.label,
      about: part.about,
      key: { label: 'Status source' },
      schema: part.schema,
      list: async (deps, tenantId) =>
        Promise.all(
          (await listSources(deps.db, tenantId)).map(async (source) => ({
            key: source.id,
            summary: source.name,
            value: await part.read(deps.db, tenantId, source.id),
          })),
        ),
      save: async (deps, who, key, value: never) => {
        if (!(await listSources(deps.db, who.tenantId)).some((source) => source.id === key))
          return { field: 'key', message: 'no such status source in this tenant' };
        await part.save(deps.db, { ...who, sourceId: key }, value);
        return undefined;
      },
    }),
  ),
];

const fieldsOf = (setting: Setting): FormField[] =>
  formFields(setting.schema, 'value', setting.secrets).filter(
    (field) => field.name !== `value.${setting.keyInValue}`,
  );

export function registerSettingsPages(pages: Hono<ConsoleEnv>, deps: Deps): void {
  pages.get('/settings', (c) => c.redirect(`/console/settings/${SETTINGS[0]?.path}`, 303));
  for (const setting of SETTINGS) {
    pages.get(`/settings/${setting.path}`, async (c) => {
      const staff = c.get('staff');
      const entries = await setting.list(deps, staff.tenantId);
      const key = c.req.query('key');
      const editing = entries.find((entry) => entry.key === key);
      return c.html(
        <SettingsPage
          staff={staff}
          setting={setting}
          entries={entries}
          editing={editing?.key ?? key ?? (setting.key.schema ? undefined : entries[0]?.key)}
          values={formValues(
            fieldsOf(setting),
            (editing ?? (setting.key.schema ? undefined : entries[0]))?.value,
          )}
          saved={c.req.query('saved') === key && key !== undefined}
        />,
      );
    });
    pages.post(`/settings/${setting.path}`, async (c) => {
      const staff = c.get('staff');
      const body = await c.req.parseBody();
      const fields = fieldsOf(setting);
      const key = typeof body.key === 'string' ? body.key.trim() : '';
      const values = Object.fromEntries(
        Object.entries(body).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
      );
      const again = async (problem: { field: string; message: string }) =>
        c.html(
          <SettingsPage
            staff={staff}
            setting={setting}
            entries={await setting.list(deps, staff.tenantId)}
            editing={key}
            values={values}
            problem={problem}
          />,
          400,
        );
      const keyCheck = setting.key.schema?.safeParse(key);
      if (keyCheck && !keyCheck.success)
        return again({ ...firstProblem(keyCheck.error, 'key'), field: 'key' });
      const read = readForm(fields, body, 'value');
      if (!('value' in read)) return again(read);
      const parsed = setting.schema.safeParse(
        setting.keyInValue ? { ...read.value, [setting.keyInValue]: key } : read.value,
      );
      if (!parsed.success) return again(firstProblem(parsed.error, 'value'));
      const problem = await setting.save(
        deps,
        { tenantId: staff.tenantId, actor: staffActor(staff), requestId: c.get('requestId') },
        key,
        parsed.data as never,
      );
      if (problem)
        return again(
          problem.field.includes('.') || problem.field === 'key'
            ? problem
            : { ...problem, field: `value.${problem.field}` },
        );
      return c.redirect(
        `/console/settings/${setting.path}?key=${encodeURIComponent(key)}&saved=${encodeURIComponent(key)}`,
        303,
      );
    });
  }
}

function SettingsPage(props: {
  staff: StaffSession;
  setting: Setting;
  entries: { key: string; summary: string }[];
  editing?: string;
  values: Record<string, string>;
  problem?: { field: string; message: string };
  saved?: boolean;
}) {
  const { setting, problem } = props;
  const base = `/console/settings/${setting.path}`;
  const form = `setting-${setting.path}`;
  return (
    <Layout title={`Settings: ${setting.label}`} staff={props.staff} path="/console/settings">
      <nav aria-label="Settings">
        <ul class="counts">
          {SETTINGS.map((other) => (
            <li>
              <a
                href={`/console/settings/${other.path}`}
                aria-current={other.path === setting.path ? 'page' : undefined}
              >
                {other.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <p>{setting.about}</p>
      {props.saved && (
        <p class="notice" role="status">
          Saved {props.editing}. The change is on record with your name.
        </p>
      )}
      {problem && (
        <p class="error" role="alert">
          Not saved: {problem.field.replace(/^value\./, '')} {problem.message}. Nothing was changed.
        </p>
      )}
      <ul>
        {props.entries.map((entry) => (
          <li>
            <a href={`${base}?key=${encodeURIComponent(entry.key)}`}>
              {setting.key.schema ? entry.key : entry.summary}
            </a>
            {setting.key.schema && <>: {entry.summary}</>}
          </li>
        ))}
        {setting.key.schema && (
          <li>
            <a href={base}>Add one</a>
          </li>
        )}
      </ul>
      <form method="post" action={base}>
        <fieldset>
          <legend>
            {props.editing
              ? `Change ${props.entries.find((entry) => entry.key === props.editing && !setting.key.schema)?.summary ?? props.editing}`
              : 'Add'}
          </legend>
          <CsrfField token={props.staff.csrfToken} />
          {!setting.key.schema ? (
            <input type="hidden" name="key" value={props.editing ?? ''} />
          ) : (
            <Field
              form={form}
              field={{ name: 'key', label: setting.key.label, kind: 'text', required: true }}
              value={props.editing ?? props.values.key}
              problem={problem?.field === 'key' ? problem.message : undefined}
            />
          )}
          {fieldsOf(setting).map((field) => (
            <Field
              form={form}
              field={field}
              value={props.values[field.name]}
              problem={problem?.field === field.name ? problem.message : undefined}
            />
          ))}
          <button type="submit">Save</button>
        </fieldset>
      </form>
    </Layout>
  );
}
