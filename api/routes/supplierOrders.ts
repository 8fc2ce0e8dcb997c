import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { sql } from 'kysely';
import type { Db } from '../../db/client.js';
import {
  advanceSupplierOrder,
  createSupplierOrderRecords,
  recordReceipt,
  supplierProfile,
  type TransitionResult,
} from '../../db/supplierOrders.js';
import { type ResolveRequest, resolveStep } from '../../domain/flow.js';
import { FlowStatus } from '../../domain/flow.schema.js';
import { SupplierCode } from '../../domain/supplier.js';
import { supplierOrderFlow, supplierStatus } from '../../domain/supplierOrder.js';
import { StartSupplierOrder, SupplierOrderState } from '../../domain/supplierOrder.schema.js';
import {
  checkWebhookSignature,
  reportedState,
  SIGNATURE_HEADER,
  SupplierWebhook,
} from '../../integrations/suppliers/protocol.js';
import type { supplierOrder } from '../../workflows/supplierOrder.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { requestCancellation } from '../flowActions.js';
import { problemContent, problemJson, problemType } from '../problem.js';
import { FlowStarted, flowStarted, startFlow } from '../startFlow.js';
import { supplierByCode } from '../supplierSettings.js';
import { verifiedWebhook, WebhookReceipt } from '../webhooks.js';
import { actorOf, askFlow, decisionProblem, decodeCursor, encodeCursor, signalIfRunning } from './shared.js';

const OrderIdParam = z.object({ orderId: StartSupplierOrder.shape.orderId });

const OrderLineView = z.object({
  sku: z.string(),
  description: z.string(),
  quantity: z.number().int(),
  receivedQuantity: z.number().int(),
});

const HistoryEvent = z.object({
  type: z.string(),
  occurredAt: z.string(),
  actor: z.record(z.string(), z.unknown()),
  payload: z.record(z.string(), z.unknown()),
});

const SupplierOrderSummary = z
  .object({
    orderId: z.string(),
    flowId: z.string(),
    supplier: z.object({ code: z.string(), name: z.string() }),
    state: SupplierOrderState,
    sentVia: z.enum(['api', 'export']).nullable(),
    supplierReference: z.string().nullable(),
    expectedShipAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('SupplierOrderSummary');

const SupplierOrderDetail = SupplierOrderSummary.extend({
  lines: z.array(OrderLineView),
  flow: z.object({
    state: z.string(),
    currentStep: z.string().nullable(),
    attention: z.record(z.string(), z.unknown()).nullable(),
  }),
  history: z.array(HistoryEvent),
}).openapi('SupplierOrder');

const ListQuery = z.object({
  state: SupplierOrderState.optional(),
  supplier: z.string().max(32).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

const Receipt = z
  .object({
    receiptId: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .describe('The delivery note number: a receipt is booked once per order and id'),
    lines: z
      .array(
        z.object({
          sku: z.string().trim().min(1).max(64),
          quantity: z.number().int().positive().max(1_000_000),
        }),
      )
      .min(1)
      .max(500),
    receivedAt: z.iso.datetime({ offset: true }).optional(),
  })
  .openapi('GoodsReceipt');

const ReceiptResult = z
  .object({
    duplicate: z.boolean(),
    complete: z.boolean().describe('Every line is in: the order is RECEIVED'),
    lines: z.array(z.object({ sku: z.string(), ordered: z.number().int(), received: z.number().int() })),
  })
  .openapi('GoodsReceiptResult');

const CancelBody = z.object({ reason: z.string().trim().min(1).max(500) });
const ReorderBody = z
  .object({ supplier: SupplierCode, note: z.string().trim().min(1).max(2000) })
  .openapi('Reorder');

const problemResponses = {
  400: { description: 'Invalid request', content: problemContent },
  401: { description: 'No valid API key', content: problemContent },
  403: { description: 'The key lacks the role', content: problemContent },
  404: { description: 'No such supplier order for this tenant', content: problemContent },
  409: { description: 'Not possible in the order’s state', content: problemContent },
  503: {
    description: 'The order’s flow did not answer in time (no worker running?)',
    content: problemContent,
  },
};

function orderNotFound(c: Context, orderId: string) {
  return problemJson(c, 404, {
    type: problemType('not-found'),
    title: 'Supplier order not found',
    detail: `No supplier order ${orderId}.`,
  });
}

function fieldProblem(c: Context, field: string, message: string) {
  return problemJson(c, 400, {
    type: problemType('validation'),
    title: 'Invalid request',
    detail: `${field}: ${message}`,
    errors: [{ field, message }],
  });
}

function ordersOf(db: Db, tenantId: string) {
  return db
    .selectFrom('supplier_orders')
    .innerJoin('suppliers', 'suppliers.id', 'supplier_orders.supplier_id')
    .selectAll('supplier_orders')
    .select(['suppliers.code as supplier_code', 'suppliers.name as supplier_name'])
    .where('supplier_orders.tenant_id', '=', tenantId);
}

type OrderRow = NonNullable<Awaited<ReturnType<ReturnType<typeof ordersOf>['executeTakeFirst']>>>;

function summary(row: OrderRow): z.infer<typeof SupplierOrderSummary> {
  return {
    orderId: row.order_key,
    flowId: row.flow_id,
    supplier: { code: row.supplier_code, name: row.supplier_name },
    state: row.state as SupplierOrderState,
    sentVia: row.sent_via as 'api' | 'export' | null,
    supplierReference: row.supplier_reference,
    expectedShipAt: row.expected_ship_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function registerSupplierOrderRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db, logger } = deps;

  /** Tells the order's flow what the database now says; the flow only ever moves forward. */
  const tellFlow = (order: Omit<TransitionResult, 'applied'>, source: 'webhook' | 'warehouse') =>
    signalIfRunning(deps, order.flowId, supplierStatus, {
      state: order.state,
      expectedShipAt: order.expectedShipAt,
      source,
      round: order.round,
    });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/supplier-orders',
      tags: ['Supplier orders'],
      summary: 'Order from a supplier (idempotent on orderId)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator')] as const,
      request: { body: { required: true, content: { 'application/json': { schema: StartSupplierOrder } } } },
      responses: {
        201: { description: 'Started', content: { 'application/json': { schema: FlowStarted } } },
        200: {
          description: 'An order with this id exists already; nothing new was started',
          content: { 'application/json': { schema: FlowStarted } },
        },
        ...problemResponses,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const { tenantId, tenantSlug } = c.get('principal');
      const supplier = await supplierByCode(db, tenantId, body.supplier);
      if (!supplier) return fieldProblem(c, 'body.supplier', `no supplier ${body.supplier}`);
      const profile = supplierProfile(supplier);
      const flowId = supplierOrderFlow.flowId(tenantSlug, body.orderId);
      const { created } = await startFlow<typeof supplierOrder>(deps, {
        definition: supplierOrderFlow,
        businessKey: body.orderId,
        tenantId,
        tenantSlug,
        title: `${supplier.name}: ${body.lines.length} line${body.lines.length === 1 ? '' : 's'}`,
        input: {
          orderId: body.orderId,
          lines: body.lines,
          deliverTo: body.deliverTo,
          retry: body.retry,
          tenantId,
          tenantSlug,
          supplier: profile,
        },
        records: (trx) =>
          createSupplierOrderRecords(trx, {
            tenantId,
            orderKey: body.orderId,
            supplierId: supplier.id,
            flowId,
            lines: body.lines,
            deliverTo: body.deliverTo,
          }),
      });
      return c.json(flowStarted(flowId, created), created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/supplier-orders',
      tags: ['Supplier orders'],
      summary: 'List supplier orders, newest first',
      security: [{ apiKey: [] }],
      request: { query: ListQuery },
      responses: {
        200: {
          description: 'A page of orders',
          content: {
            'application/json': {
              schema: z.object({ orders: z.array(SupplierOrderSummary), nextCursor: z.string().nullable() }),
            },
          },
        },
        ...problemResponses,
      },
    }),
    async (c) => {
      const query = c.req.valid('query');
      let select = ordersOf(db, c.get('principal').tenantId);
      if (query.state) select = select.where('supplier_orders.state', '=', query.state);
      if (query.supplier) select = select.where('suppliers.code', '=', query.supplier);
      const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
      if (query.cursor && !cursor)
        return fieldProblem(c, 'query.cursor', 'not a cursor returned by this API');
      if (cursor) {
        select = select.where(
          sql<boolean>`(supplier_orders.created_at, supplier_orders.id) < (${cursor.updatedAt}::timestamptz, ${cursor.id})`,
        );
      }
      const rows = await select
        .orderBy('supplier_orders.created_at', 'desc')
        .orderBy('supplier_orders.id', 'desc')
        .limit(query.limit + 1)
        .execute();
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      return c.json(
        {
          orders: page.map(summary),
          nextCursor: rows.length > query.limit && last ? encodeCursor(last.created_at, last.id) : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/supplier-orders/{orderId}',
      tags: ['Supplier orders'],
      summary: 'One supplier order: its state, lines with received quantities, and its history',
      security: [{ apiKey: [] }],
      request: { params: OrderIdParam },
      responses: {
        200: { description: 'The order', content: { 'application/json': { schema: SupplierOrderDetail } } },
        ...problemResponses,
      },
    }),
    async (c) => {
      const { orderId } = c.req.valid('param');
      const { tenantId } = c.get('principal');
      const row = await ordersOf(db, tenantId).where('order_key', '=', orderId).executeTakeFirst();
      if (!row) return orderNotFound(c, orderId);
      const [lines, flow, history] = await Promise.all([
        db
          .selectFrom('supplier_order_lines')
          .selectAll()
          .where('order_id', '=', row.id)
          .orderBy('position')
          .execute(),
        db.selectFrom('flows').selectAll().where('id', '=', row.flow_id).executeTakeFirst(),
        db
          .selectFrom('domain_events')
          .select(['type', 'occurred_at', 'actor', 'payload'])
          .where('tenant_id', '=', tenantId)
          .where('entity_type', '=', 'supplier_order')
          .where('entity_id', '=', orderId)
          .orderBy('occurred_at')
          .orderBy('position')
          .execute(),
      ]);
      return c.json(
        {
          ...summary(row),
          lines: lines.map((line) => ({
            sku: line.sku,
            description: line.description,
            quantity: line.quantity,
            receivedQuantity: line.received_quantity,
          })),
          flow: {
            state: flow?.state ?? 'running',
            currentStep: flow?.current_step ?? null,
            attention: flow?.attention ?? null,
          },
          history: history.map((event) => ({
            type: event.type,
            occurredAt: event.occurred_at.toISOString(),
            actor: event.actor,
            payload: event.payload,
          })),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/supplier-orders/{orderId}/receipts',
      tags: ['Supplier orders'],
      summary: 'Book goods in (warehouse): line by line; the order is RECEIVED when every line is in',
      security: [{ apiKey: [] }],
      middleware: [requireRole('warehouse', 'coordinator')] as const,
      request: {
        params: OrderIdParam,
        body: { required: true, content: { 'application/json': { schema: Receipt } } },
      },
      responses: {
        201: { description: 'Booked', content: { 'application/json': { schema: ReceiptResult } } },
        200: {
          description: 'This receipt was booked before; nothing changed',
          content: { 'application/json': { schema: ReceiptResult } },
        },
        ...problemResponses,
      },
    }),
    async (c) => {
      const { orderId } = c.req.valid('param');
      const body = c.req.valid('json');
      const principal = c.get('principal');
      const result = await recordReceipt(db, {
        tenantId: principal.tenantId,
        orderKey: orderId,
        receiptKey: body.receiptId,
        lines: body.lines,
        actor: actorOf(principal),
        receivedAt: body.receivedAt ? new Date(body.receivedAt) : new Date(),
      });
      if ('refused' in result) {
        switch (result.refused) {
          case 'unknown_order':
            return orderNotFound(c, orderId);
          case 'unknown_sku': {
            const index = body.lines.findIndex((line) => line.sku === result.sku);
            return fieldProblem(c, `body.lines.${index}.sku`, `${result.sku} is not on order ${orderId}`);
          }
          case 'not_open':
            return problemJson(c, 409, {
              type: problemType('conflict'),
              title: 'Not possible now',
              detail: `Order ${orderId} is ${result.state}: no goods can be booked against it.`,
            });
          case 'over_received':
            return problemJson(c, 409, {
              type: problemType('over-received'),
              title: 'More than was ordered',
              detail: `${result.sku}: ${result.ordered} ordered, ${result.received} received so far; ${result.quantity} more would exceed the order. Nothing was booked.`,
            });
        }
      }
      if (result.order) await tellFlow(result.order, 'warehouse');
      return c.json(
        { duplicate: !result.recorded, complete: result.complete, lines: result.lines },
        result.recorded ? 201 : 200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/supplier-orders/{orderId}/cancel',
      tags: ['Supplier orders'],
      summary:
        'Cancel the order: through the supplier’s API when it offers cancellation, otherwise by email to the supplier',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator')] as const,
      request: {
        params: OrderIdParam,
        body: { required: true, content: { 'application/json': { schema: CancelBody } } },
      },
      responses: {
        202: {
          description: 'Cancellation requested; the order reaches CANCELLED once the supplier is told',
          content: {
            'application/json': { schema: z.object({ flowId: z.string(), state: z.literal('cancelling') }) },
          },
        },
        ...problemResponses,
      },
    }),
    async (c) => {
      const { orderId } = c.req.valid('param');
      const { reason } = c.req.valid('json');
      const principal = c.get('principal');
      const row = await ordersOf(db, principal.tenantId).where('order_key', '=', orderId).executeTakeFirst();
      if (!row) return orderNotFound(c, orderId);
      if (row.state === 'CANCELLED') {
        return problemJson(c, 409, {
          type: problemType('conflict'),
          title: 'Not possible now',
          detail: `Order ${orderId} is already cancelled.`,
        });
      }
      const refusal = await requestCancellation(
        deps,
        { tenantId: principal.tenantId, actor: actorOf(principal) },
        row.flow_id,
        reason,
        c.get('requestId'),
      );
      if (refusal) return decisionProblem(c, refusal);
      return c.json({ flowId: row.flow_id, state: 'cancelling' as const }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/supplier-orders/{orderId}/reorder',
      tags: ['Supplier orders'],
      summary:
        'Order a late order from another supplier instead: it is withdrawn from the current one and sent to the next',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator')] as const,
      request: {
        params: OrderIdParam,
        body: { required: true, content: { 'application/json': { schema: ReorderBody } } },
      },
      responses: {
        200: {
          description: 'The order’s flow after the decision',
          content: { 'application/json': { schema: FlowStatus } },
        },
        ...problemResponses,
      },
    }),
    async (c) => {
      const { orderId } = c.req.valid('param');
      const body = c.req.valid('json');
      const principal = c.get('principal');
      const row = await ordersOf(db, principal.tenantId).where('order_key', '=', orderId).executeTakeFirst();
      if (!row) return orderNotFound(c, orderId);
      const next = await supplierByCode(db, principal.tenantId, body.supplier);
      if (!next) return fieldProblem(c, 'body.supplier', `no supplier ${body.supplier}`);
      const request: ResolveRequest = {
        actor: actorOf(principal),
        action: 'reorder',
        note: body.note,
        // The id only; builds before flowdesk-3 still take the profile, which this tenant's lookup gave.
        input: { supplierId: next.id, supplier: supplierProfile(next) },
      };
      const outcome = await askFlow(deps, row.flow_id, (handle) =>
        handle.executeUpdate(resolveStep, { args: [request] }),
      );
      if (!('status' in outcome)) return decisionProblem(c, outcome);
      return c.json(outcome.status, 200);
    },
  );

  const SupplierParam = z.object({ supplierId: z.uuid() });
  const genuineSupplierEvent = verifiedWebhook(async (raw, c) => {
    const supplierId = c.req.param('supplierId') ?? '';
    const supplier = z.uuid().safeParse(supplierId).success
      ? await db
          .selectFrom('suppliers')
          .select('webhook_secret')
          .where('id', '=', supplierId)
          .executeTakeFirst()
      : undefined;
    if (!supplier?.webhook_secret) return 'this endpoint takes no webhooks for that supplier';
    return checkWebhookSignature(
      deps.secrets.open(supplier.webhook_secret),
      raw,
      c.req.header(SIGNATURE_HEADER),
    );
  }, 401);

  app.openapi(
    createRoute({
      method: 'post',
      path: '/webhooks/suppliers/{supplierId}',
      tags: ['Webhooks'],
      summary: 'A supplier’s order status webhook (signed with its webhook secret)',
      description:
        'Verified with `Supplier-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">` (5 minutes tolerance). ' +
        'A status moves the order forward only; a repeated, late or older status is acknowledged and ignored.',
      middleware: [genuineSupplierEvent] as const,
      request: {
        params: SupplierParam,
        body: { required: true, content: { 'application/json': { schema: SupplierWebhook } } },
      },
      responses: {
        200: {
          description: 'Received',
          content: {
            'application/json': {
              schema: WebhookReceipt.extend({
                applied: z.boolean().describe('The order moved forward'),
                state: SupplierOrderState,
              }),
            },
          },
        },
        400: { description: 'Malformed', content: problemContent },
        401: { description: 'Forged, stale or unsigned', content: problemContent },
        404: { description: 'No such order at this supplier', content: problemContent },
      },
    }),
    async (c) => {
      const { supplierId } = c.req.valid('param');
      const event = c.req.valid('json');
      const order = await db
        .selectFrom('supplier_orders')
        .select(['tenant_id', 'order_key', 'flow_id', 'state', 'round', 'expected_ship_at'])
        .where('supplier_id', '=', supplierId)
        .where('order_key', '=', event.data.reference)
        // Once the supplier has told us its own id for the order, the news must name it too.
        .where((eb) =>
          eb.or([eb('supplier_reference', 'is', null), eb('supplier_reference', '=', event.data.id)]),
        )
        .executeTakeFirst();
      if (!order) {
        return problemJson(c, 404, {
          type: problemType('not-found'),
          title: 'Order not found',
          detail: `This supplier has no order ${event.data.reference} from us.`,
        });
      }
      const receipt = await db
        .insertInto('webhook_receipts')
        .values({
          source: `supplier:${supplierId}`,
          external_id: event.id,
          tenant_id: order.tenant_id,
          event_type: event.type,
          payload: JSON.stringify(event),
        })
        .onConflict((oc) => oc.columns(['source', 'external_id']).doNothing())
        .returning('id')
        .executeTakeFirst();
      // Applied on every delivery, not only the first: forward-only and idempotent, so a repeat heals a lost signal.
      const to = reportedState(event.data.status);
      const shipDate = event.data.expectedShipDate ? new Date(event.data.expectedShipDate) : undefined;
      const result = to
        ? await advanceSupplierOrder(db, {
            tenantId: order.tenant_id,
            orderKey: order.order_key,
            to,
            actor: { type: 'webhook', id: `supplier:${event.id}` },
            occurredAt: new Date(event.created),
            expectedShipAt: shipDate && !Number.isNaN(shipDate.getTime()) ? shipDate : undefined,
            detail: { source: 'webhook', supplierEventId: event.id },
          })
        : undefined;
      if (!result?.applied) {
        logger.info(
          {
            orderId: order.order_key,
            state: result?.state ?? order.state,
            reported: event.data.status,
            eventId: event.id,
          },
          'supplier status ignored: the order is there or further already',
        );
      }
      // The transition's answer is the order as it now stands; a status that moves nothing leaves it as read.
      const now = result ?? {
        state: order.state as SupplierOrderState,
        round: order.round,
        flowId: order.flow_id,
        expectedShipAt: order.expected_ship_at?.toISOString() ?? null,
      };
      await tellFlow(now, 'webhook');
      return c.json(
        { received: true as const, duplicate: !receipt, applied: result?.applied ?? false, state: now.state },
        200,
      );
    },
  );
}
