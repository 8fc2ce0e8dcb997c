import type { Migration, MigrationProvider } from 'kysely';
import * as flowKernel from './0001_flow_kernel.js';
import * as contracts from './0002_contracts.js';
import * as invoices from './0003_invoices.js';
import * as flowSearch from './0004_flow_search.js';
import * as supplierOrders from './0005_supplier_orders.js';
import * as emailResends from './0006_email_resends.js';
import * as flowRuns from './0007_flow_runs.js';
import * as flowParents from './0008_flow_parents.js';
import * as eventPositions from './0009_event_positions.js';
import * as money from './0010_money.js';
import * as tenantKeys from './0011_tenant_keys.js';
import * as voidReasons from './0012_void_reasons.js';
import * as paymentSignals from './0013_payment_signals.js';
import * as stripeInbox from './0014_stripe_inbox.js';
import * as receiptRetention from './0015_receipt_retention.js';
import * as keyExpiry from './0016_key_expiry.js';
import * as leadToInstall from './0017_lead_to_install.js';
import * as automation from './0018_automation.js';
import * as companies from './0019_companies.js';
import * as couriers from './0020_couriers.js';
import * as orders from './0021_orders.js';
import * as receiptTaskQueue from './0022_receipt_task_queue.js';
import * as statusAnalytics from './0023_status_analytics.js';
import * as flowStatusRelay from './0024_flow_status_relay.js';
import * as staffAccounts from './0025_staff_accounts.js';
import * as dashboardSnapshots from './0026_dashboard_snapshots.js';
import * as flowObjectIndexes from './0027_flow_object_indexes.js';
import * as bulkActions from './0028_bulk_actions.js';

/**
 * Listed here rather than read from the folder, so migrations work the same from source,
 * from the compiled build and from any working directory. Names sort in the order they run.
 */
const migrations: Record<string, Migration> = {
  '0001_flow_kernel': flowKernel,
  '0002_contracts': contracts,
  '0003_invoices': invoices,
  '0004_flow_search': flowSearch,
  '0005_supplier_orders': supplierOrders,
  '0006_email_resends': emailResends,
  '0007_flow_runs': flowRuns,
  '0008_flow_parents': flowParents,
  '0009_event_positions': eventPositions,
  '0010_money': money,
  '0011_tenant_keys': tenantKeys,
  '0012_void_reasons': voidReasons,
  '0013_payment_signals': paymentSignals,
  '0014_stripe_inbox': stripeInbox,
  '0015_receipt_retention': receiptRetention,
  '0016_key_expiry': keyExpiry,
  '0017_lead_to_install': leadToInstall,
  '0018_automation': automation,
  '0019_companies': companies,
  '0020_couriers': couriers,
  '0021_orders': orders,
  '0022_receipt_task_queue': receiptTaskQueue,
  '0023_status_analytics': statusAnalytics,
  '0024_flow_status_relay': flowStatusRelay,
  '0025_staff_accounts': staffAccounts,
  '0026_dashboard_snapshots': dashboardSnapshots,
  '0027_flow_object_indexes': flowObjectIndexes,
  '0028_bulk_actions': bulkActions,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
