import { type FlowObjects, flowObjects } from '../../db/flowObjects.js';
import type { StaffSession } from '../../db/staff.js';
import type { StepStatus } from '../../domain/flow.js';
import { formatMoney } from '../../domain/money.js';
import type { ApiDeps } from '../context.js';
import { ownedFlow } from '../flowActions.js';
import { temporalUiUrl } from '../routes/flows.js';
import { type DecisionForm, DecisionForms, decisionForms } from './decisionForms.js';
import { age, flowHref, Layout, Notice } from './layout.js';

/**
 * One flow as staff work on it: its state and steps (a set's k of n), what needs a decision and the forms to take
 * it, its child flows, the business objects it works on, and who did what, when and why. The page's live part is
 * fetched again whenever the tenant's flows change; a form being filled in is kept as it is while its question
 * stands (`hx-preserve`).
 */
export interface FlowView {
  id: string;
  flowType: string;
  businessKey: string;
  state: string;
  currentStep: string | null;
  steps: StepStatus[];
  attention: { step: string; reason: string; error: string; since?: string; flowId?: string } | null;
  /** The decisions possible now, as forms of the flow the decision goes to (a child's, when the step is). */
  decisions: DecisionForm[];
  parentId: string | null;
  children: { id: string; flowType: string; state: string }[];
  objects: FlowObjects;
  events: { type: string; occurredAt: Date; actor: string; note: string | null }[];
  temporalUiUrl: string | null;
}

const text = (value: unknown) => (typeof value === 'string' && value ? value : null);

/** The flow's page as the tenant's staff may see it, or nothing when the tenant has no such flow. */
export async function readFlowView(
  deps: Pick<ApiDeps, 'db' | 'config'>,
  tenantId: string,
  flowId: string,
): Promise<FlowView | undefined> {
  const { db } = deps;
  const row = await ownedFlow(deps, tenantId, flowId);
  if (!row) return undefined;
  const attention = row.attention as FlowView['attention'] & { options?: string[] };
  const [children, events, objects, decidedBy] = await Promise.all([
    db
      .selectFrom('flows')
      .select(['id', 'flow_type', 'state'])
      .where('tenant_id', '=', tenantId)
      .where('parent_id', '=', flowId)
      .orderBy('started_at')
      .execute(),
    db
      .selectFrom('domain_events')
      .select(['type', 'occurred_at', 'actor', 'payload'])
      .where('tenant_id', '=', tenantId)
      .where('flow_id', '=', flowId)
      .orderBy('occurred_at', 'desc')
      .orderBy('position', 'desc')
      .limit(200)
      .execute(),
    flowObjects(db, tenantId, flowId),
    attention?.flowId
      ? db
          .selectFrom('flows')
          .select('flow_type')
          .where('tenant_id', '=', tenantId)
          .where('id', '=', attention.flowId)
          .executeTakeFirst()
      : undefined,
  ]);
  return {
    id: row.id,
    flowType: row.flow_type,
    businessKey: row.business_key,
    state: row.state,
    currentStep: row.current_step,
    steps: row.steps ?? [],
    attention: attention && typeof attention === 'object' ? attention : null,
    decisions: attention?.options
      ? decisionForms(decidedBy?.flow_type ?? row.flow_type, attention.options)
      : [],
    parentId: row.parent_id,
    children: children.map((child) => ({ id: child.id, flowType: child.flow_type, state: child.state })),
    objects,
    events: events.map((event) => {
      const actor = event.actor as { id?: string; name?: string };
      return {
        type: event.type,
        occurredAt: event.occurred_at,
        actor: actor.name ?? actor.id ?? 'someone',
        note: text(event.payload.reason) ?? text(event.payload.note),
      };
    }),
    temporalUiUrl: row.run_id ? temporalUiUrl(deps, row.id, row.run_id) : null,
  };
}

const money = (minor: string | number, currency: string) => formatMoney(Number(minor), currency);
const when = (at: Date | null) => (at ? at.toISOString().slice(0, 16).replace('T', ' ') : '—');

/** How far a step that runs several child flows at once has got: "2 of 3 done". */
function setProgress(step: StepStatus): string | null {
  if (!step.children?.length) return null;
  const done = step.children.filter((child) => child.state === 'completed').length;
  return `${done} of ${step.children.length} done`;
}

export function FlowPage(props: {
  staff: StaffSession;
  flow: FlowView;
  now: Date;
  /** What the last decision came to, or why it was not taken. */
  notice?: { ok: boolean; text: string };
  failed?: Parameters<typeof DecisionForms>[0]['failed'];
}) {
  const { flow, staff } = props;
  return (
    <Layout title={`${flow.flowType} ${flow.businessKey}`} staff={staff} path="/console/flows">
      <Notice notice={props.notice} />
      <div
        id="flow-live"
        hx-get={flowHref(flow.id)}
        hx-trigger="changed from:body"
        hx-select="#flow-live"
        hx-swap="outerHTML"
      >
        <p>
          <strong data-state={flow.state}>{flow.state}</strong>
          {flow.currentStep && <> at {flow.currentStep}</>}
          {flow.temporalUiUrl && (
            <>
              {' · '}
              <a href={flow.temporalUiUrl}>history in the Temporal UI</a>
            </>
          )}
          {flow.parentId && (
            <>
              {' · part of '}
              <a href={flowHref(flow.parentId)}>{flow.parentId}</a>
            </>
          )}
        </p>
        {flow.attention && (
          <section aria-labelledby="attention-heading" class="item attention">
            <h2 id="attention-heading">Needs a decision: {flow.attention.step}</h2>
            <p>
              {flow.attention.reason.replaceAll('_', ' ')} — {flow.attention.error}
              {flow.attention.flowId && flow.attention.flowId !== flow.id && (
                <>
                  {' '}
                  (in <a href={flowHref(flow.attention.flowId)}>{flow.attention.flowId}</a>)
                </>
              )}
            </p>
            <div id={`decisions-${flow.attention.since ?? 'now'}`.replace(/[^\w-]/g, '-')} hx-preserve>
              <DecisionForms
                flowId={flow.id}
                forms={flow.decisions}
                csrf={staff.csrfToken}
                failed={props.failed}
              />
            </div>
          </section>
        )}
        <h2>Steps</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">State</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {flow.steps.map((step) => (
              <tr>
                <td>{step.name}</td>
                <td>
                  {step.state}
                  {setProgress(step) && <> ({setProgress(step)})</>}
                </td>
                <td>{step.attempts}</td>
                <td>{step.lastError ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {flow.children.length > 0 && (
          <>
            <h2>Child flows</h2>
            <ul>
              {flow.children.map((child) => (
                <li>
                  <a href={flowHref(child.id)}>{child.id}</a> ({child.flowType}, {child.state})
                </li>
              ))}
            </ul>
          </>
        )}
        <BusinessObjects objects={flow.objects} />
        <h2>Timeline</h2>
        <ol id="timeline">
          {flow.events.map((event) => (
            <li>
              <time datetime={event.occurredAt.toISOString()}>{age(event.occurredAt, props.now)} ago</time>{' '}
              <strong>{event.type}</strong> by {event.actor}
              {event.note && <> — {event.note}</>}
            </li>
          ))}
        </ol>
      </div>
      <script src="/console/assets/live.js" defer />
    </Layout>
  );
}

function BusinessObjects(props: { objects: FlowObjects }) {
  const { leads, projects, contracts, invoices, supplierOrders, orders } = props.objects;
  if ([leads, projects, contracts, invoices, supplierOrders, orders].every((objects) => objects.length === 0))
    return null;
  return (
    <section aria-labelledby="objects-heading" class="objects">
      <h2 id="objects-heading">What it works on</h2>
      {leads.map((lead) => (
        <p>
          Lead <strong>{lead.lead_key}</strong> ({lead.state})
        </p>
      ))}
      {projects.map((project) => (
        <p>
          Project <strong>{project.title}</strong> ({project.state}),{' '}
          {money(project.contract_total, project.currency)}, installation {when(project.installation_at)}
        </p>
      ))}
      {contracts.map((contract) => (
        <div>
          <h3>
            Contract {contract.contract_key} — {contract.state}
            {contract.signed_at && <>, signed {when(contract.signed_at)}</>}
          </h3>
          <table>
            <caption class="skip">Versions of contract {contract.contract_key}</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Written</th>
                <th scope="col">SHA-256</th>
              </tr>
            </thead>
            <tbody>
              {contract.versions.map((version) => (
                <tr>
                  <td>{version.version}</td>
                  <td>{when(version.created_at)}</td>
                  <td>
                    <code class="hash">{version.sha256}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
      {invoices.map((invoice) => (
        <div>
          <h3>
            Invoice {invoice.number ?? invoice.invoice_key} — {invoice.state}:{' '}
            {money(invoice.total, invoice.currency)}, paid {money(invoice.paid, invoice.currency)}
            {Number(invoice.refunded) > 0 && <>, refunded {money(invoice.refunded, invoice.currency)}</>}
          </h3>
          {invoice.payments.length > 0 && (
            <ul>
              {invoice.payments.map((payment) => (
                <li>
                  {money(payment.amount, payment.currency)} from {payment.source}, {when(payment.received_at)}{' '}
                  ({payment.state}
                  {Number(payment.refunded) > 0 && (
                    <>, {money(payment.refunded, payment.currency)} refunded</>
                  )}
                  {Number(payment.disputed) > 0 && (
                    <>, {money(payment.disputed, payment.currency)} disputed</>
                  )}
                  )
                </li>
              ))}
            </ul>
          )}
        </div>
      ))}
      {supplierOrders.length > 0 && (
        <>
          <h3>Supplier orders</h3>
          <ul>
            {supplierOrders.map((order) => (
              <li>
                {order.order_key} to {order.supplier}: {order.state}
                {order.supplier_reference && <>, their reference {order.supplier_reference}</>}
                {order.expected_ship_at && <>, ships {when(order.expected_ship_at)}</>}
              </li>
            ))}
          </ul>
        </>
      )}
      {orders.map((order) => (
        <div>
          <h3>
            Order {order.number} — {order.state}
            {order.fulfillment_state && <> ({order.fulfillment_state})</>}:{' '}
            {money(order.total, order.currency)}
          </h3>
          {order.shipments.length > 0 && (
            <ul>
              {order.shipments.map((shipment) => (
                <li>
                  Shipment {shipment.state}
                  {shipment.courier_code && <> with {shipment.courier_code}</>}
                  {shipment.tracking_number &&
                    (shipment.tracking_url?.startsWith('https://') ? (
                      <>
                        , tracking <a href={shipment.tracking_url}>{shipment.tracking_number}</a>
                      </>
                    ) : (
                      <>, tracking {shipment.tracking_number}</>
                    ))}
                  {shipment.delivered_at && <>, delivered {when(shipment.delivered_at)}</>}
                </li>
              ))}
            </ul>
          )}
        </div>
      ))}
    </section>
  );
}
