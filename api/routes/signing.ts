import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { html } from 'hono/html';
import { sql } from 'kysely';
import {
  ConnectMessage,
  connectDecision,
  verifyConnectSignature,
} from '../../integrations/esign/docusign.js';
import { checkLinkToken } from '../../integrations/links/expiringLinks.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { HtmlPage, page } from '../pages.js';
import { problemContent } from '../problem.js';
import { recordSignatureDecision } from '../signatures.js';
import { verifiedWebhook, WebhookReceipt } from '../webhooks.js';

const EnvelopeParam = z.object({ envelopeId: z.string().min(1).max(200) });
const LinkQuery = z.object({ expires: z.string().max(20), token: z.string().max(100) });
const SigningForm = z
  .object({
    decision: z.enum(['sign', 'decline']),
    signerName: z.string().trim().max(200).optional(),
    documentSha256: z.string().regex(/^[0-9a-f]{64}$/),
    agree: z.literal('yes').optional(),
    reason: z.string().max(1000).optional(),
  })
  .superRefine((form, ctx) => {
    if (form.decision === 'sign' && (form.signerName ?? '').length < 2) {
      ctx.addIssue({ code: 'custom', path: ['signerName'], message: 'type your full name to sign' });
    }
  });

export function registerSigningRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db, config } = deps;

  /** The envelope behind a signing link, or the page saying why the link does not work. */
  async function openEnvelope(c: Context, envelopeId: string, query: z.infer<typeof LinkQuery>) {
    const secret = config.signingSecret;
    const check = secret ? checkLinkToken(secret, 'sign', envelopeId, query.expires, query.token) : 'invalid';
    if (check === 'invalid') {
      return {
        refusal: page(
          c,
          403,
          'This signing link is not valid',
          html`<p>Please use the link from your email.</p>`,
        ),
      };
    }
    if (check === 'expired') {
      return {
        refusal: page(c, 410, 'This signing link has expired', html`<p>Please ask us for a new link.</p>`),
      };
    }
    const envelope = await db
      .selectFrom('signature_envelopes')
      .innerJoin('contracts', 'contracts.id', 'signature_envelopes.contract_id')
      .innerJoin('documents', 'documents.id', 'contracts.document_id')
      .select([
        'signature_envelopes.id',
        'signature_envelopes.tenant_id',
        'signature_envelopes.status',
        'signature_envelopes.flow_id',
        'signature_envelopes.document_sha256',
        'signature_envelopes.contract_version',
        'signature_envelopes.signer_name',
        'signature_envelopes.voided_because',
        'contracts.contract_key',
        'contracts.customer_email',
        'documents.content',
      ])
      .where('signature_envelopes.id', '=', envelopeId)
      .executeTakeFirst();
    if (!envelope)
      return { refusal: page(c, 404, 'Unknown contract', html`<p>We could not find this contract.</p>`) };
    if (envelope.status === 'voided') {
      // The page says why, truthfully: only a replaced contract has a newer link.
      const [title, text] =
        envelope.voided_because === 'replaced'
          ? ['This contract was replaced', 'A newer version was sent to you; please use that link.']
          : envelope.voided_because === 'cancelled'
            ? [
                'This contract was withdrawn',
                'We withdrew this contract: there is nothing to sign. Questions? Reply to our email.',
              ]
            : ['This contract can no longer be signed', 'Please contact us about it.'];
      return { refusal: page(c, 410, title, html`<p>${text}</p>`) };
    }
    return { envelope };
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/sign/{envelopeId}',
      tags: ['Customers'],
      summary: 'The signing page a customer opens from the contract email (tokenised, expiring link)',
      request: { params: EnvelopeParam, query: LinkQuery },
      responses: {
        200: { description: 'The contract and the signing form', content: HtmlPage },
        403: { description: 'Forged link', content: HtmlPage },
        404: { description: 'Unknown envelope', content: HtmlPage },
        410: { description: 'Expired link or replaced contract', content: HtmlPage },
      },
    }),
    async (c) => {
      const { envelopeId } = c.req.valid('param');
      const { envelope, refusal } = await openEnvelope(c, envelopeId, c.req.valid('query'));
      if (refusal) return refusal;
      if (envelope.status === 'completed') {
        return page(
          c,
          200,
          'Already signed',
          html`<p>This contract was signed by ${envelope.signer_name}. Thank you.</p>`,
        );
      }
      await db
        .updateTable('contracts')
        .set({ state: 'SIGNING', updated_at: sql`now()` })
        .where('contract_key', '=', envelope.contract_key)
        .where('tenant_id', '=', envelope.tenant_id)
        .where('state', '=', 'SENT')
        .execute();
      const document = envelope.content.toString('utf8');
      return page(
        c,
        200,
        `Contract ${envelope.contract_key}, version ${envelope.contract_version}`,
        html`<iframe sandbox title="contract" srcdoc="${document}"></iframe>
          <p>Document fingerprint (SHA-256): <code>${envelope.document_sha256}</code></p>
          <form method="post">
            <input type="hidden" name="documentSha256" value="${envelope.document_sha256}" />
            <label>Your full name <input name="signerName" required autocomplete="name" /></label>
            <label><input type="checkbox" name="agree" value="yes" required /> I have read the contract and agree to it.</label>
            <button name="decision" value="sign">Sign the contract</button>
          </form>
          <form method="post">
            <input type="hidden" name="documentSha256" value="${envelope.document_sha256}" />
            <label>Not what you expected? <input name="reason" placeholder="Tell us why (optional)" /></label>
            <button name="decision" value="decline">Decline</button>
          </form>`,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/sign/{envelopeId}',
      tags: ['Customers'],
      summary:
        'Sign or decline: records signer, IP, time and the document fingerprint, then moves the flow on',
      request: {
        params: EnvelopeParam,
        query: LinkQuery,
        body: { required: true, content: { 'application/x-www-form-urlencoded': { schema: SigningForm } } },
      },
      responses: {
        200: { description: 'Recorded', content: HtmlPage },
        403: { description: 'Forged link', content: HtmlPage },
        404: { description: 'Unknown envelope', content: HtmlPage },
        409: {
          description: 'The document changed since the page was shown, or it was already decided',
          content: HtmlPage,
        },
        410: { description: 'Expired link or replaced contract', content: HtmlPage },
      },
    }),
    async (c) => {
      const { envelopeId } = c.req.valid('param');
      const form = c.req.valid('form');
      const { envelope, refusal } = await openEnvelope(c, envelopeId, c.req.valid('query'));
      if (refusal) return refusal;
      if (form.documentSha256 !== envelope.document_sha256) {
        return page(
          c,
          409,
          'The contract has changed',
          html`<p>Please reload the page and read the current version.</p>`,
        );
      }
      if (form.decision === 'sign' && form.agree !== 'yes') {
        return page(c, 409, 'Please confirm', html`<p>Tick the box to confirm you agree, then sign.</p>`);
      }
      const signing = form.decision === 'sign';
      const outcome = await recordSignatureDecision(deps, {
        envelopeId,
        outcome: signing ? 'signed' : 'declined',
        signerName: form.signerName,
        reason: form.reason,
        ip: c.get('clientAddress'),
        occurredAt: new Date(),
        actor: { type: 'customer', id: envelope.customer_email, name: form.signerName },
      });
      if (outcome.result === 'already_decided') {
        return page(c, 409, 'Already decided', html`<p>This contract was already ${outcome.status}.</p>`);
      }
      return signing
        ? page(
            c,
            200,
            'Thank you for signing',
            html`<p>We have recorded your signature and will send the invoice shortly.</p>`,
          )
        : page(c, 200, 'We have recorded your answer', html`<p>Someone from our team will contact you.</p>`);
    },
  );

  const genuineConnectMessage = verifiedWebhook((raw, c) => {
    const secret = config.docusignConnectSecret;
    if (!secret) return 'DOCUSIGN_CONNECT_SECRET is not configured';
    return verifyConnectSignature(raw, c.req.header(), secret)
      ? undefined
      : 'no X-DocuSign-Signature-N header matches the body';
  });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/webhooks/esign/{provider}',
      tags: ['Webhooks'],
      summary: 'E-signature provider events (DocuSign Connect, JSON SIM)',
      description:
        'Verified with the Connect HMAC key over the raw body (`X-DocuSign-Signature-1`…`-N`). ' +
        '`envelope-completed`, `envelope-declined` and `envelope-voided` are recorded once per envelope and ' +
        'tell its flow; other events are acknowledged and ignored.',
      middleware: [genuineConnectMessage] as const,
      request: {
        params: z.object({ provider: z.enum(['docusign']) }),
        body: {
          required: true,
          content: { 'application/json': { schema: ConnectMessage.openapi('ConnectMessage') } },
        },
      },
      responses: {
        200: { description: 'Received', content: { 'application/json': { schema: WebhookReceipt } } },
        400: { description: 'Forged or malformed', content: problemContent },
      },
    }),
    async (c) => {
      const message = c.req.valid('json');
      const decision = connectDecision(message);
      if (!decision) return c.json({ received: true as const, duplicate: false }, 200);
      const outcome = await recordSignatureDecision(deps, {
        ...decision,
        actor: { type: 'webhook', id: `docusign:${decision.envelopeId}`, name: decision.signerName },
      });
      // Account-wide Connect also reports envelopes Flowdesk did not send: acknowledged, so it stops retrying.
      if (outcome.result === 'unknown_envelope')
        return c.json({ received: true as const, duplicate: false }, 200);
      const receipt = await db
        .insertInto('webhook_receipts')
        .values({
          source: 'docusign',
          external_id: `${decision.envelopeId}/${message.event}`,
          event_type: message.event,
          payload: await c.req.text(),
        })
        .onConflict((oc) => oc.columns(['source', 'external_id']).doNothing())
        .returning('id')
        .executeTakeFirst();
      return c.json({ received: true as const, duplicate: !receipt || outcome.result !== 'recorded' }, 200);
    },
  );
}
