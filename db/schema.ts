import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { StepStatus } from '../domain/flow.js';

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;
/** A JSON column that may be empty (null until written). */
type OptionalJson<T> = ColumnType<T | null, string | null | undefined, string | null>;

export interface TenantsTable {
  id: Generated<string>;
  slug: string;
  name: string;
  settings: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: CreatedAt;
}

export interface ApiKeysTable {
  id: Generated<string>;
  tenant_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  roles: string[];
  created_at: CreatedAt;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
  expires_at: Timestamp | null;
  /** A key an architect or a crew works with: it sees that architect's leads, that crew's jobs. */
  architect_id: string | null;
  crew_id: string | null;
}

export interface FlowsTable {
  id: string;
  tenant_id: string;
  flow_type: string;
  business_key: string;
  run_id: string | null;
  state: string;
  current_step: string | null;
  progress_done: number;
  progress_total: number;
  waiting_for: string | null;
  attention: Json<Record<string, unknown> | null>;
  title: string | null;
  version: ColumnType<string, number | string, number | string>;
  started_at: Timestamp;
  updated_at: Timestamp;
  ended_at: Timestamp | null;
  run_started_at: Timestamp | null;
  reconciled_at: Timestamp | null;
  parent_id: string | null;
  root_id: string | null;
  steps: ColumnType<StepStatus[] | null, string | undefined, string>;
}

export interface DomainEventsTable {
  id: Generated<string>;
  tenant_id: string;
  type: string;
  occurred_at: Timestamp;
  recorded_at: CreatedAt;
  /** The order events were written in (several of one workflow task share their time). */
  position: Generated<string>;
  actor: Json<Record<string, unknown>>;
  entity_type: string;
  entity_id: string;
  flow_id: string | null;
  payload: ColumnType<Record<string, unknown>, string | undefined, string>;
  schema_version: Generated<number>;
  trace_id: string | null;
  idempotency_key: string;
  /** The transaction that wrote the event (xid8, as text), which relays read in order (0024). */
  xact: Generated<string | null>;
}

/** A bulk action from the console and each flow's result as it came (0028). */
export interface ConsoleBulkActionsTable {
  id: Generated<string>;
  tenant_id: string;
  requested_by: string;
  action: 'pause' | 'resume' | 'cancel';
  reason: string;
  flow_ids: string[];
  results: ColumnType<{ flowId: string; ok: boolean; said: string }[], string | undefined, string>;
  created_at: CreatedAt;
  finished_at: Timestamp | null;
}

/** The console dashboard's figures of a tenant, as last computed (0026). */
export interface DashboardSnapshotsTable {
  tenant_id: string;
  computed_at: Timestamp | null;
  figures: Json<Record<string, unknown>> | null;
  claimed_at: Timestamp | null;
}

/** A person who signs in to the ops console (0025). */
export interface StaffUsersTable {
  id: Generated<string>;
  tenant_id: string;
  email: string;
  name: string;
  roles: string[];
  architect_id: string | null;
  crew_id: string | null;
  password_hash: string | null;
  invite_token_hash: string | null;
  invite_expires_at: Timestamp | null;
  invited_by: string;
  created_at: CreatedAt;
  disabled_at: Timestamp | null;
}

export interface StaffSessionsTable {
  id: Generated<string>;
  token_hash: string;
  tenant_id: string;
  user_id: string;
  csrf_token: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
}

export interface ConsoleAssignmentsTable {
  tenant_id: string;
  item_key: string;
  user_id: string;
  assigned_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** Where a relay of events has got to: the last (xact, event id) it applied. */
export interface RelayCursorsTable {
  name: string;
  xact: string;
  event_id: string;
}

export interface WebhookReceiptsTable {
  id: Generated<string>;
  source: string;
  external_id: string;
  tenant_id: string | null;
  event_type: string;
  payload: Json<Record<string, unknown>>;
  received_at: CreatedAt;
  /** Stripe's inbox: when the relay wrote its records (other sources apply a delivery as it arrives). */
  processed_at: Timestamp | null;
  /** Stripe's inbox only: arrival order, what flows are to be told, and when they were. */
  position: ColumnType<string, never, never>;
  effects: Json<Record<string, unknown>> | null;
  relayed_at: Timestamp | null;
  attempts: Generated<number>;
  last_error: string | null;
  retry_at: Timestamp | null;
  /** When the payload was cut down to what deduplication and the audit trail need (db/retention.ts). */
  pruned_at: Timestamp | null;
  /** Stripe's inbox: the task queue of the deployment that received it, where flows it starts run. */
  task_queue: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface EmailsTable {
  id: Generated<string>;
  tenant_id: string;
  idempotency_key: string;
  to_address: string;
  subject: string;
  template: string;
  status: Generated<string>;
  message_id: string | null;
  attempts: Generated<number>;
  last_error: string | null;
  /** The operator decisions (their ids) whose one authorised attempt has been used. */
  resend_decisions: Generated<string[]>;
  created_at: CreatedAt;
  sent_at: Timestamp | null;
}

export interface DocumentsTable {
  id: Generated<string>;
  tenant_id: string;
  kind: string;
  entity_id: string;
  version: number;
  filename: string;
  content_type: string;
  content: Buffer;
  sha256: string;
  created_at: CreatedAt;
}

export interface ContractsTable {
  id: Generated<string>;
  tenant_id: string;
  contract_key: string;
  proposal_id: string;
  flow_id: string;
  state: string;
  version: number;
  customer_name: string;
  customer_email: string;
  document_id: string;
  signed_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface SignatureEnvelopesTable {
  id: string;
  tenant_id: string;
  provider: string;
  contract_id: string;
  contract_version: number;
  document_sha256: string;
  flow_id: string;
  status: string;
  expires_at: Timestamp;
  signer_name: string | null;
  signer_ip: string | null;
  signed_at: Timestamp | null;
  declined_at: Timestamp | null;
  decline_reason: string | null;
  /** replaced (a new version went out), cancelled (the flow withdrew it), or provider. */
  voided_because: 'replaced' | 'cancelled' | 'provider' | null;
  created_at: CreatedAt;
}

type Money = ColumnType<string, number | string | bigint, number | string | bigint>;
type Updatable = ColumnType<Date, Date | string | undefined, Date | string>;

export interface InvoiceCountersTable {
  tenant_id: string;
  series: string;
  year: number;
  last_number: number;
}

export interface InvoicesTable {
  id: Generated<string>;
  tenant_id: string;
  invoice_key: string;
  number: string | null;
  flow_id: string;
  state: string;
  currency: string;
  total: Money;
  paid: ColumnType<string, number | string | bigint | undefined, number | string | bigint>;
  refunded: ColumnType<string, number | string | bigint | undefined, number | string | bigint>;
  customer_name: string;
  customer_email: string;
  issued_at: Timestamp | null;
  due_at: Timestamp | null;
  paid_at: Timestamp | null;
  cancelled_at: Timestamp | null;
  credit_note_number: string | null;
  created_at: CreatedAt;
  updated_at: Updatable;
}

export interface InvoiceLinesTable {
  invoice_id: string;
  position: number;
  description: string;
  quantity: number;
  unit_price: Money;
  amount: Money;
}

export interface PaymentsTable {
  id: Generated<string>;
  tenant_id: string;
  /** Null for a payment whose invoice is unknown (unapplied). */
  invoice_id: string | null;
  source: string;
  external_id: string;
  amount: Money;
  currency: string;
  received_at: Timestamp;
  recorded_by: Json<Record<string, unknown>>;
  created_at: CreatedAt;
  state: ColumnType<
    'applied' | 'unapplied' | 'refunded',
    'applied' | 'unapplied' | undefined,
    'applied' | 'refunded'
  >;
  unapplied_reason: string | null;
  payment_intent: string | null;
  checkout_session_id: string | null;
  refunded: ColumnType<string, number | undefined, number | string>;
  disputed: ColumnType<string, number | undefined, number | string>;
  resolved_by: Json<Record<string, unknown>> | null;
}

export interface MoneyEventsTable {
  id: Generated<string>;
  tenant_id: string;
  payment_id: string;
  kind: 'refund' | 'dispute';
  /** Stripe's id of the refund step or the dispute: each is recorded once. */
  external_id: string;
  amount: Money;
  currency: string;
  status: string | null;
  reason: string | null;
  occurred_at: Timestamp;
  created_at: CreatedAt;
}

export interface CheckoutSessionsTable {
  id: string;
  tenant_id: string;
  invoice_id: string;
  attempt: number;
  amount: Money;
  url: string;
  status: string;
  created_at: CreatedAt;
}

export interface SuppliersTable {
  id: Generated<string>;
  tenant_id: string;
  code: string;
  name: string;
  protocol: string;
  base_url: string | null;
  credentials: string | null;
  webhook_secret: string | null;
  order_email: string;
  capabilities: Json<{ webhooks: boolean; polling: boolean; cancellation: boolean }>;
  poll_every: string;
  lead_time: string;
  created_at: CreatedAt;
  updated_at: Updatable;
}

export interface SupplierOrdersTable {
  id: Generated<string>;
  tenant_id: string;
  order_key: string;
  supplier_id: string;
  flow_id: string;
  state: string;
  round: Generated<number>;
  sent_via: string | null;
  supplier_reference: string | null;
  expected_ship_at: Timestamp | null;
  deliver_to: string | null;
  sent_at: Timestamp | null;
  accepted_at: Timestamp | null;
  in_production_at: Timestamp | null;
  shipped_at: Timestamp | null;
  received_at: Timestamp | null;
  cancelled_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: Updatable;
}

export interface SupplierOrderLinesTable {
  order_id: string;
  position: number;
  sku: string;
  description: string;
  quantity: number;
  received_quantity: Generated<number>;
}

export interface SupplierOrderReceiptsTable {
  id: Generated<string>;
  order_id: string;
  receipt_key: string;
  lines: Json<{ sku: string; quantity: number }[]>;
  received_by: Json<Record<string, unknown>>;
  received_at: Timestamp;
}

export interface ArchitectsTable {
  id: Generated<string>;
  tenant_id: string;
  name: string;
  email: string;
  created_at: CreatedAt;
}

export interface CrewsTable {
  id: Generated<string>;
  tenant_id: string;
  name: string;
  email: string;
  jobs_per_day: number;
  weekly_capacity: number;
  active: Generated<boolean>;
  created_at: CreatedAt;
}

export interface LeadsTable {
  id: Generated<string>;
  tenant_id: string;
  lead_key: string;
  state: string;
  source: string;
  customer: Json<{ name: string; email: string; phone?: string }>;
  site: Json<{ street: string; postcode: string; city: string; country: string }>;
  system_size_kwp: ColumnType<string | null, number | null | undefined, number | null>;
  architect_id: string | null;
  notes: string | null;
  qualification: OptionalJson<{ passed: boolean; failed: string[] }>;
  lost_reason: string | null;
  flow_id: string;
  created_at: CreatedAt;
  updated_at: Updatable;
}

export interface ProjectsTable {
  id: Generated<string>;
  tenant_id: string;
  project_key: string;
  lead_id: string;
  state: string;
  title: string;
  currency: string;
  contract_lines: Json<{ description: string; quantity: number; unitPrice: number }[]>;
  contract_total: Money;
  crew_id: string | null;
  installation_at: Timestamp | null;
  installation_day: ColumnType<string | null, string | null | undefined, string | null>;
  installation_tentative: Generated<boolean>;
  capacity_note: string | null;
  checklist: OptionalJson<Record<string, boolean>>;
  completion_notes: string | null;
  open_problem: string | null;
  flow_id: string;
  created_at: CreatedAt;
  updated_at: Updatable;
}

export interface CatalogueItemsTable {
  id: Generated<string>;
  tenant_id: string;
  sku: string;
  kind: string;
  name: string;
  supplier_id: string;
  unit_price: Money;
  currency: string;
  lead_time_days: number;
  min_per_site: Generated<number>;
  max_per_site: number | null;
  pack_of: Generated<number>;
  active: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: Updatable;
}

export interface PanelSelectionsTable {
  id: Generated<string>;
  tenant_id: string;
  project_id: string;
  version: number;
  state: string;
  lines: ColumnType<unknown[], string | undefined, string>;
  total: ColumnType<string | null, number | null | undefined, number | null>;
  saved_at: Timestamp | null;
  noted_at: Timestamp | null;
  locked_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: Updatable;
}

export interface SelectionChangeRequestsTable {
  id: Generated<string>;
  tenant_id: string;
  project_id: string;
  from_version: number;
  lines: ColumnType<unknown[], string, string>;
  reason: string;
  state: string;
  decided_by: OptionalJson<Record<string, unknown>>;
  decision_note: string | null;
  created_at: CreatedAt;
  decided_at: Timestamp | null;
}

export interface AutomationScenariosTable {
  tenant_id: string;
  scenario: string;
  config: Json<Record<string, unknown>>;
  updated_at: Updatable;
}

export interface AutomationStepsTable {
  id: Generated<string>;
  tenant_id: string;
  shipment_item_id: string;
  scenario: string;
  state: string;
  attempts: Generated<number>;
  last_error: string | null;
  device: Json<Record<string, unknown>>;
  device_id: string | null;
  fallback_notes: string | null;
  flow_id: string;
  created_at: CreatedAt;
  updated_at: Updatable;
}

export interface CompaniesTable {
  id: Generated<string>;
  tenant_id: string;
  company_key: string;
  name: string;
  created_at: CreatedAt;
  updated_at: Updatable;
}

export interface CompanyContactsTable {
  id: Generated<string>;
  tenant_id: string;
  company_id: string;
  name: string;
  email: string;
  phone: string | null;
  roles: string[];
  created_at: CreatedAt;
}

export interface CompanyPrimaryContactsTable {
  company_id: string;
  role: string;
  contact_id: string;
}

export interface CompanyAddressesTable {
  id: Generated<string>;
  tenant_id: string;
  company_id: string;
  label: string;
  street: string;
  postcode: string;
  city: string;
  country: string;
  default_shipping: Generated<boolean>;
  default_billing: Generated<boolean>;
  created_at: CreatedAt;
}

export interface CouriersTable {
  tenant_id: string;
  code: string;
  name: string;
  tracking_url_template: string;
  adapter: string;
  updated_at: Updatable;
}

export interface PriceBookEntriesTable {
  tenant_id: string;
  sku: string;
  /** '' for the global entry. */
  region: ColumnType<string, string | undefined, string>;
  currency: string;
  name: string;
  unit_price: Money;
  stripe_price_id: string | null;
  updated_at: Updatable;
}

export interface CompanyPricesTable {
  tenant_id: string;
  company_id: string;
  sku: string;
  currency: string;
  unit_price: Money;
  stripe_price_id: string | null;
  agreement: string;
  updated_at: Updatable;
}

export interface OrdersTable {
  id: Generated<string>;
  tenant_id: string;
  number: string;
  company_id: string;
  billing_contact_id: string;
  billing_address: Json<{ street: string; postcode: string; city: string; country: string }>;
  region: ColumnType<string, string | undefined, string>;
  currency: string;
  payment_terms: string;
  state: ColumnType<string, string | undefined, string>;
  fulfillment_state: string | null;
  total: Money;
  checkout_attempt: ColumnType<number, number | undefined, number>;
  flow_id: string;
  created_at: CreatedAt;
  paid_at: Timestamp | null;
  completed_at: Timestamp | null;
  updated_at: Updatable;
}

export interface OrderLinesTable {
  tenant_id: string;
  order_id: string;
  position: number;
  sku: string;
  description: string;
  quantity: number;
  unit_price: Money;
  price_source: string;
  price_notes: string | null;
  stripe_price_id: string | null;
}

export interface FulfillmentItemsTable {
  tenant_id: string;
  order_id: string;
  position: number;
  quantity: number;
  remaining: number;
}

export interface ShipmentsTable {
  id: Generated<string>;
  tenant_id: string;
  order_id: string;
  state: ColumnType<string, string | undefined, string>;
  address: Json<{ street: string; postcode: string; city: string; country: string }>;
  courier_code: string | null;
  tracking_number: string | null;
  tracking_url: string | null;
  courier_tag: string | null;
  exception: string | null;
  created_at: CreatedAt;
  dispatched_at: Timestamp | null;
  shipped_at: Timestamp | null;
  delivered_at: Timestamp | null;
  updated_at: Updatable;
}

export interface ShipmentItemsTable {
  id: Generated<string>;
  tenant_id: string;
  shipment_id: string;
  order_id: string;
  position: number;
  quantity: number;
  automation: Json<ShipmentItemAutomation[]>;
}

/** A scenario to run for a shipment item once it is delivered, with the device it concerns. */
export interface ShipmentItemAutomation {
  scenario: string;
  device: { serial: string; model: string; assetId: string; previousDeviceId?: string };
}

export interface CourierEventsTable {
  id: Generated<string>;
  tenant_id: string;
  shipment_id: string;
  courier_code: string;
  event_id: string;
  tag: string;
  subtag: string | null;
  occurred_at: Timestamp;
  received_at: CreatedAt;
  applied: boolean;
  ignored_reason: string | null;
}

export interface StatusSourcesTable {
  id: Generated<string>;
  tenant_id: string;
  kind: 'flowdesk' | 'keycrm';
  name: string;
  base_url: string | null;
  /** Sealed at rest (runtime/secretBox.ts). */
  api_token: string | null;
  webhook_secret_hash: string | null;
  allowed_ips: ColumnType<string[], string[] | undefined, string[]>;
  timezone: ColumnType<string, string | undefined, string>;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  near_fraction: ColumnType<string, number | undefined, number>;
  api_tokens: ColumnType<number, number | undefined, number>;
  api_tokens_at: ColumnType<Date, Date | string | undefined, Date | string>;
  statuses_refreshed_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: Updatable;
}

export interface StatusGroupsTable {
  tenant_id: string;
  source_id: string;
  group_id: string;
  name: string;
  position: ColumnType<number, number | undefined, number>;
}

export interface SourceStatusesTable {
  tenant_id: string;
  source_id: string;
  status_id: string;
  name: string;
  alias: string | null;
  group_id: string;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  position: ColumnType<number, number | undefined, number>;
}

export interface StatusEventsTable {
  id: Generated<string>;
  tenant_id: string;
  source_id: string;
  order_id: string;
  status_id: string;
  group_hint: string | null;
  status_changed_at: Timestamp;
  received_at: CreatedAt;
}

/** An item of an outside CRM's order, as far as urgency rules look at it. */
export interface AnalyticsOrderItem {
  sku: string | null;
  offerId: string | null;
  productId: string | null;
  name: string | null;
  quantity: number;
}

export interface AnalyticsOrdersTable {
  id: Generated<string>;
  tenant_id: string;
  source_id: string;
  order_id: string;
  created_in_source_at: Timestamp | null;
  first_seen_at: CreatedAt;
  updated_at: Updatable;
  items: OptionalJson<AnalyticsOrderItem[]>;
  items_state: ColumnType<'pending' | 'fetched' | 'failed' | 'own', string | undefined, string>;
  items_attempts: ColumnType<number, number | undefined, number>;
  items_next_at: ColumnType<Date, Date | string | undefined, Date | string>;
  items_error: string | null;
  urgent_override: boolean | null;
  sla_profile_override: string | null;
  cycle_overrides: ColumnType<Record<string, unknown>, string | undefined, string>;
}

export interface WorkCalendarsTable {
  tenant_id: string;
  source_id: string;
  group_id: string;
  timezone: string;
  windows: Json<Record<string, [string, string][]>>;
  holidays: ColumnType<string[], string[] | undefined, string[]>;
}

export interface SlaLimitsTable {
  tenant_id: string;
  source_id: string;
  profile: string;
  group_id: string;
  normal_minutes: number | null;
  urgent_minutes: number | null;
}

export interface StatusCyclesTable {
  tenant_id: string;
  source_id: string;
  code: string;
  name: string;
  start_kind: 'group' | 'status';
  start_ref: string;
  end_kind: 'group' | 'status';
  end_ref: string;
}

export interface UrgentRulesTable {
  tenant_id: string;
  source_id: string;
  match: 'sku' | 'offer_id' | 'product_id';
  value: string;
}

export interface Database {
  console_bulk_actions: ConsoleBulkActionsTable;
  dashboard_snapshots: DashboardSnapshotsTable;
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  flows: FlowsTable;
  domain_events: DomainEventsTable;
  relay_cursors: RelayCursorsTable;
  staff_users: StaffUsersTable;
  staff_sessions: StaffSessionsTable;
  console_assignments: ConsoleAssignmentsTable;
  webhook_receipts: WebhookReceiptsTable;
  emails: EmailsTable;
  documents: DocumentsTable;
  contracts: ContractsTable;
  signature_envelopes: SignatureEnvelopesTable;
  invoice_counters: InvoiceCountersTable;
  invoices: InvoicesTable;
  invoice_lines: InvoiceLinesTable;
  payments: PaymentsTable;
  money_events: MoneyEventsTable;
  checkout_sessions: CheckoutSessionsTable;
  suppliers: SuppliersTable;
  supplier_orders: SupplierOrdersTable;
  supplier_order_lines: SupplierOrderLinesTable;
  supplier_order_receipts: SupplierOrderReceiptsTable;
  architects: ArchitectsTable;
  crews: CrewsTable;
  leads: LeadsTable;
  projects: ProjectsTable;
  catalogue_items: CatalogueItemsTable;
  panel_selections: PanelSelectionsTable;
  selection_change_requests: SelectionChangeRequestsTable;
  automation_scenarios: AutomationScenariosTable;
  automation_steps: AutomationStepsTable;
  companies: CompaniesTable;
  company_contacts: CompanyContactsTable;
  company_primary_contacts: CompanyPrimaryContactsTable;
  company_addresses: CompanyAddressesTable;
  couriers: CouriersTable;
  price_book_entries: PriceBookEntriesTable;
  company_prices: CompanyPricesTable;
  orders: OrdersTable;
  order_lines: OrderLinesTable;
  fulfillment_items: FulfillmentItemsTable;
  shipments: ShipmentsTable;
  shipment_items: ShipmentItemsTable;
  courier_events: CourierEventsTable;
  status_sources: StatusSourcesTable;
  status_groups: StatusGroupsTable;
  source_statuses: SourceStatusesTable;
  status_events: StatusEventsTable;
  analytics_orders: AnalyticsOrdersTable;
  work_calendars: WorkCalendarsTable;
  sla_limits: SlaLimitsTable;
  status_cycles: StatusCyclesTable;
  urgent_rules: UrgentRulesTable;
}

export type Tenant = Selectable<TenantsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type NewApiKey = Insertable<ApiKeysTable>;
