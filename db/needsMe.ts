import { sql } from 'kysely';
import type { Attention } from '../domain/flow.js';
import { formatMoney } from '../domain/money.js';
import type { Db } from './client.js';

/**
 * "Needs me now": one item per problem, across every flow type and the money and goods that wait on a person.
 *
 * - A flow's problem (needs attention, or failing and retrying) is written on the row of the flow whose step it is
 *   and, while a child does a parent's step, on the parent's row too: both are one item, keyed by the flow that
 *   owns the step, shown with its root flow (the project or proposal).
 * - A payment held unapplied (unknown invoice, another currency), and a supplier order past its ship date.
 */
export type NeedsMeKind = 'attention' | 'retrying' | 'unapplied_payment' | 'late_supplier_order';

export interface NeedsMeItem {
  key: string;
  kind: NeedsMeKind;
  /** The flow the decisions go to (the one whose step it is), when the item is a flow's. */
  flowId: string | null;
  root: { flowId: string; flowType: string; businessKey: string } | null;
  step: string | null;
  why: string;
  lastError: string | null;
  since: Date;
  attempt: number | null;
  /** The decisions a person may take now. */
  decisions: string[];
  assignee: { userId: string; name: string } | null;
}

export interface NeedsMeFilter {
  kind?: NeedsMeKind;
  /** Only items assigned to this user, or to nobody (`unassigned`). */
  assignee?: string | 'unassigned';
  sort?: 'oldest' | 'newest';
  now?: Date;
}

export async function needsMe(db: Db, tenantId: string, filter: NeedsMeFilter = {}): Promise<NeedsMeItem[]> {
  const now = filter.now ?? new Date();
  // Only the sources of the kind asked for are read.
  const wants = (...kinds: NeedsMeKind[]) => !filter.kind || kinds.includes(filter.kind);
  const [flows, payments, orders, assigned] = await Promise.all([
    wants('attention', 'retrying') ? flowProblems(db, tenantId) : [],
    wants('unapplied_payment') ? unappliedPayments(db, tenantId) : [],
    wants('late_supplier_order') ? lateSupplierOrders(db, tenantId, now) : [],
    db
      .selectFrom('console_assignments as a')
      .innerJoin('staff_users as u', (join) =>
        join.onRef('u.id', '=', 'a.user_id').onRef('u.tenant_id', '=', 'a.tenant_id'),
      )
      .select(['a.item_key', 'u.id', 'u.name'])
      .where('a.tenant_id', '=', tenantId)
      .execute(),
  ]);
  const assignees = new Map(assigned.map((a) => [a.item_key, { userId: a.id, name: a.name }]));
  const items: Omit<NeedsMeItem, 'assignee'>[] = [
    ...flows.map(({ owner, attention, root_id, root_type, root_key }) => ({
      key: `flow:${owner}`,
      kind: (attention.reason === 'retrying' ? 'retrying' : 'attention') as NeedsMeKind,
      flowId: owner,
      root: { flowId: root_id, flowType: root_type, businessKey: root_key },
      step: attention.step,
      why: attention.reason,
      lastError: attention.error || null,
      since: new Date(attention.since),
      attempt: attention.attempt ?? null,
      decisions: attention.options,
    })),
    ...payments.map((payment) => ({
      key: `payment:${payment.id}`,
      kind: 'unapplied_payment' as const,
      flowId: null,
      root: null,
      step: null,
      why: payment.unapplied_reason ?? 'unapplied',
      lastError: `${formatMoney(Number(payment.amount), payment.currency)} from ${payment.source}`,
      since: payment.received_at,
      attempt: null,
      decisions: ['apply', 'refund'],
    })),
    ...orders.map((order) => ({
      key: `supplier_order:${order.id}`,
      kind: 'late_supplier_order' as const,
      flowId: order.flow_id,
      root: {
        flowId: order.root_id ?? order.flow_id,
        flowType: order.flow_type,
        businessKey: order.business_key,
      },
      step: order.state,
      why: 'past its ship date',
      lastError: null,
      since: order.expected_ship_at ?? now,
      attempt: null,
      decisions: [],
    })),
  ];
  const older = filter.sort === 'newest' ? -1 : 1;
  return items
    .map((item) => ({ ...item, assignee: assignees.get(item.key) ?? null }))
    .filter((item) => !filter.kind || item.kind === filter.kind)
    .filter((item) =>
      filter.assignee === undefined
        ? true
        : filter.assignee === 'unassigned'
          ? item.assignee === null
          : item.assignee?.userId === filter.assignee,
    )
    .sort((a, b) => older * (a.since.getTime() - b.since.getTime()));
}

/** Takes an item for a person (or gives it back): the last to take it has it. */
export async function assignItem(
  db: Db,
  tenantId: string,
  itemKey: string,
  userId: string | null,
): Promise<void> {
  if (userId === null) {
    await db
      .deleteFrom('console_assignments')
      .where('tenant_id', '=', tenantId)
      .where('item_key', '=', itemKey)
      .execute();
    return;
  }
  await db
    .insertInto('console_assignments')
    .values({ tenant_id: tenantId, item_key: itemKey, user_id: userId })
    .onConflict((oc) =>
      oc.columns(['tenant_id', 'item_key']).doUpdateSet({ user_id: userId, assigned_at: new Date() }),
    )
    .execute();
}

async function flowProblems(db: Db, tenantId: string) {
  const { rows } = await sql<{
    owner: string;
    attention: Attention;
    root_id: string;
    root_type: string;
    root_key: string;
  }>`
      with problems as (
        select distinct on (coalesce(f.attention ->> 'flowId', f.id))
          coalesce(f.attention ->> 'flowId', f.id) as owner, f.attention, coalesce(f.root_id, f.id) as root_id
        from flows f
        where f.tenant_id = ${tenantId} and jsonb_typeof(f.attention) = 'object' and f.ended_at is null
        order by coalesce(f.attention ->> 'flowId', f.id), f.id = coalesce(f.attention ->> 'flowId', f.id) desc
      )
      select p.owner, p.attention, p.root_id, r.flow_type as root_type, r.business_key as root_key
      from problems p join flows r on r.id = p.root_id and r.tenant_id = ${tenantId}
    `.execute(db);
  return rows;
}

function unappliedPayments(db: Db, tenantId: string) {
  return db
    .selectFrom('payments')
    .select(['id', 'amount', 'currency', 'unapplied_reason', 'received_at', 'source'])
    .where('tenant_id', '=', tenantId)
    .where('state', '=', 'unapplied')
    .execute();
}

function lateSupplierOrders(db: Db, tenantId: string, now: Date) {
  return db
    .selectFrom('supplier_orders as o')
    .innerJoin('flows as f', (join) =>
      join.onRef('f.id', '=', 'o.flow_id').onRef('f.tenant_id', '=', 'o.tenant_id'),
    )
    .select([
      'o.id',
      'o.order_key',
      'o.flow_id',
      'o.expected_ship_at',
      'o.state',
      'f.root_id',
      'f.flow_type',
      'f.business_key',
    ])
    .where('o.tenant_id', '=', tenantId)
    .where('o.expected_ship_at', '<', now)
    .where('o.shipped_at', 'is', null)
    .where('o.received_at', 'is', null)
    .where('o.cancelled_at', 'is', null)
    .execute();
}
