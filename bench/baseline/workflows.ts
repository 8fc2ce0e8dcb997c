import {
  condition,
  defineQuery,
  defineSignal,
  executeChild,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import { paymentReceived } from '../../domain/invoice.js';

/**
 * The bare shape of proposal-to-payment: a parent with one activity and two children, one with three activities
 * and one with four, each waiting for one signal from outside. Its activities do nothing, so what remains is
 * Temporal's own cost for the same work, measured on the same server and worker settings.
 */
const { nothing } = proxyActivities<{ nothing(): Promise<void> }>({ startToCloseTimeout: '1 minute' });

export const proceed = defineSignal('proceed');
export const isWaiting = defineQuery<boolean>('isWaiting');

export async function baselineParent(id: string): Promise<void> {
  await nothing();
  await executeChild(baselineChild, { workflowId: `${id}/contract`, args: [3] });
  await executeChild(baselineChild, { workflowId: `${id}/invoice`, args: [4] });
}

export async function baselineChild(activities: number): Promise<void> {
  let proceeded = false;
  let waiting = false;
  setHandler(proceed, () => {
    proceeded = true;
  });
  setHandler(isWaiting, () => waiting);
  for (let i = 0; i < activities; i++) await nothing();
  waiting = true;
  await condition(() => proceeded);
}

/** Stands in for an invoice's flow in the webhook benchmark: takes every payment signal, does nothing else. */
export async function paymentSink(): Promise<void> {
  let payments = 0;
  setHandler(paymentReceived, () => {
    payments++;
  });
  await condition(() => payments < 0);
}

/** The bare shape of a supplier order: one activity to send it, three status signals, then the goods received. */
export const supplierNews = defineSignal<[string]>('supplierNews');

export async function baselineSupplierOrder(): Promise<void> {
  const heard = new Set<string>();
  setHandler(supplierNews, (news) => {
    heard.add(news);
  });
  await nothing();
  for (const news of ['accepted', 'in_production', 'shipped', 'received']) {
    await condition(() => heard.has(news));
  }
}
