import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { cancelShipment, createShipment, dispatchShipment } from '../../db/shipments.js';
import { findShipment, shipmentTimeline } from '../../db/shipmentViews.js';
import { shipmentChanged } from '../../domain/order.js';
import { Dispatch, NewShipment } from '../../domain/order.schema.js';
import { trackingApi } from '../../integrations/couriers/trackingApi.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { problemContent, problemJson, problemType } from '../problem.js';
import { AddressView, changeBy, json, signalIfRunning } from './shared.js';

const ShipmentParam = z.object({ shipmentId: z.uuid() });
const Shipment = z
  .object({
    shipmentId: z.uuid(),
    orderId: z.uuid(),
    state: z.enum(['draft', 'ready', 'in_transit', 'delivered', 'cancelled']),
    address: AddressView.describe('Where it goes, as it was when the shipment was built'),
    courierCode: z.string().nullable(),
    trackingNumber: z.string().nullable(),
    trackingUrl: z.string().nullable(),
    courierTag: z.string().nullable().describe('The courier’s last status (AfterShip tag) that moved it'),
    exception: z.string().nullable().describe('A courier exception waiting for a person'),
    items: z.array(
      z.object({
        shipmentItemId: z.uuid(),
        line: z.number().int(),
        quantity: z.number().int(),
        automation: z.array(z.object({ scenario: z.string(), device: z.record(z.string(), z.unknown()) })),
      }),
    ),
    createdAt: z.string(),
    dispatchedAt: z.string().nullable().describe('Handed to the courier'),
    shippedAt: z.string().nullable().describe('First reported in transit'),
    deliveredAt: z.string().nullable(),
  })
  .openapi('Shipment');
const Timeline = z
  .object({
    entries: z.array(
      z.object({
        at: z.string(),
        source: z.enum(['flowdesk', 'courier', 'automation']),
        type: z.string(),
        detail: z.record(z.string(), z.unknown()),
      }),
    ),
  })
  .openapi('ShipmentTimeline');
const refusals = {
  400: { description: 'Invalid request', content: problemContent },
  401: { description: 'No valid API key', content: problemContent },
  403: { description: 'Needs the coordinator or warehouse role', content: problemContent },
  404: { description: 'No such shipment', content: problemContent },
};

/** Shipments: built by allocating what is left of an order, handed to a courier, cancelled before they leave. */
export function registerShipmentRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db, config } = deps;
  const tracking = config.couriers.apiUrl
    ? trackingApi({ apiUrl: config.couriers.apiUrl, apiKey: config.couriers.apiKey })
    : undefined;
  const notFound = (c: Context, what: string) =>
    problemJson(c, 404, { type: problemType('not-found'), title: 'Not found', detail: `No ${what}.` });
  const conflict = (c: Context, detail: string, errors?: { field: string; message: string }[]) =>
    problemJson(c, 409, { type: problemType('conflict'), title: 'Refused', detail, errors });
  const invalid = (c: Context, error: { field: string; message: string }) =>
    problemJson(c, 400, {
      type: problemType('validation'),
      title: 'Invalid request',
      detail: `${error.field}: ${error.message}`,
      errors: [error],
    });
  const answer = async (c: Context<ApiEnv>, shipmentId: string, status: 200 | 201) => {
    const shipment = await findShipment(db, c.get('principal').tenantId, shipmentId);
    return shipment ? c.json(Shipment.parse(shipment), status) : notFound(c, `shipment ${shipmentId}`);
  };
  const tell = (flowId: string, shipmentId: string, eventId: string) =>
    signalIfRunning(deps, flowId, shipmentChanged, { shipmentId, eventId });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/orders/{orderId}/shipments',
      tags: ['Shipments'],
      summary:
        'Builds a draft shipment to one destination from quantities left to ship (coordinator, warehouse)',
      description:
        'Each item takes a quantity of an order line; more than is left is refused with 409 naming the item, and ' +
        'nothing is written. The destination is an address of the company’s book, or a new one (saved to the ' +
        'book with `saveAs`); the shipment keeps it as it is now.',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator', 'warehouse')] as const,
      request: {
        params: z.object({ orderId: z.uuid() }),
        body: { required: true, content: json(NewShipment) },
      },
      responses: {
        201: { description: 'Built', content: json(Shipment) },
        409: {
          description: 'More than is left, or the order is not being fulfilled',
          content: problemContent,
        },
        ...refusals,
      },
    }),
    async (c) => {
      const { orderId } = c.req.valid('param');
      const built = await createShipment(db, { ...changeBy(c), orderId, shipment: c.req.valid('json') });
      if ('refused' in built)
        return built.refused === 'not_found'
          ? notFound(c, `order ${orderId}`)
          : conflict(
              c,
              'The order is not being fulfilled: it is not paid (or confirmed) yet, or it is closed.',
            );
      if ('conflict' in built)
        return conflict(c, `${built.conflict.field}: ${built.conflict.message}`, [built.conflict]);
      if ('invalid' in built) return invalid(c, built.invalid);
      const order = await db
        .selectFrom('orders')
        .select('flow_id')
        .where('tenant_id', '=', c.get('principal').tenantId)
        .where('id', '=', orderId)
        .executeTakeFirstOrThrow();
      await tell(order.flow_id, built.shipmentId, 'created');
      return (await answer(c, built.shipmentId, 201)) as never;
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/shipments/{shipmentId}',
      tags: ['Shipments'],
      summary: 'A shipment: destination, items, courier, tracking and state',
      security: [{ apiKey: [] }],
      request: { params: ShipmentParam },
      responses: { 200: { description: 'The shipment', content: json(Shipment) }, ...refusals },
    }),
    async (c) => (await answer(c, c.req.valid('param').shipmentId, 200)) as never,
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/shipments/{shipmentId}/dispatch',
      tags: ['Shipments'],
      summary:
        'Hands a draft shipment to a courier with its tracking number: it is `ready` (coordinator, warehouse)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator', 'warehouse')] as const,
      request: { params: ShipmentParam, body: { required: true, content: json(Dispatch) } },
      responses: {
        200: { description: 'Ready, with its tracking URL', content: json(Shipment) },
        409: { description: 'Not a draft', content: problemContent },
        ...refusals,
      },
    }),
    async (c) => {
      const { shipmentId } = c.req.valid('param');
      const done = await dispatchShipment(db, { ...changeBy(c), shipmentId, dispatch: c.req.valid('json') });
      if (done === 'not_found') return notFound(c, `shipment ${shipmentId}`);
      if ('wrongState' in done) return conflict(c, done.wrongState);
      if ('invalid' in done) return invalid(c, done.invalid);
      await tell(done.flowId, shipmentId, done.eventId);
      if (tracking) {
        const { courierCode, trackingNumber } = c.req.valid('json');
        // The shipment is ready either way; dispatching it again registers the tracking again.
        await tracking
          .register(courierCode, trackingNumber)
          .catch((error: unknown) =>
            deps.logger.warn(
              { shipmentId, err: error },
              'the tracking could not be registered; dispatch again to retry',
            ),
          );
      }
      return (await answer(c, shipmentId, 200)) as never;
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/shipments/{shipmentId}/cancel',
      tags: ['Shipments'],
      summary:
        'Cancels a shipment that has not left; its quantities are left to ship again (coordinator, warehouse)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator', 'warehouse')] as const,
      request: {
        params: ShipmentParam,
        body: { required: true, content: json(z.object({ reason: z.string().trim().min(1).max(500) })) },
      },
      responses: {
        200: { description: 'Cancelled', content: json(Shipment) },
        409: { description: 'It has left', content: problemContent },
        ...refusals,
      },
    }),
    async (c) => {
      const { shipmentId } = c.req.valid('param');
      const done = await cancelShipment(db, {
        ...changeBy(c),
        shipmentId,
        reason: c.req.valid('json').reason,
      });
      if (done === 'not_found') return notFound(c, `shipment ${shipmentId}`);
      if ('wrongState' in done) return conflict(c, done.wrongState);
      await tell(done.flowId, shipmentId, done.eventId);
      return (await answer(c, shipmentId, 200)) as never;
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/shipments/{shipmentId}/timeline',
      tags: ['Shipments'],
      summary:
        'The shipment’s story in time order: its events, every courier event, and its automation steps',
      security: [{ apiKey: [] }],
      request: { params: ShipmentParam },
      responses: { 200: { description: 'The timeline', content: json(Timeline) }, ...refusals },
    }),
    async (c) => {
      const { shipmentId } = c.req.valid('param');
      const entries = await shipmentTimeline(db, c.get('principal').tenantId, shipmentId);
      return entries ? c.json({ entries }, 200) : notFound(c, `shipment ${shipmentId}`);
    },
  );
}
