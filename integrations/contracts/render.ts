import { createHash } from 'node:crypto';
import Handlebars from 'handlebars';
import { formatMoney } from '../../domain/money.js';
import { type Proposal, proposalTotal } from '../../domain/proposal.js';

const CONTRACT_TEMPLATE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Contract {{contractId}} (v{{version}})</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;line-height:1.5}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}
td.n,th.n{text-align:right}</style></head>
<body>
<h1>Contract {{contractId}}</h1>
<p>Version {{version}} · {{title}}</p>
<h2>Between</h2>
<p><strong>{{sellerName}}</strong> (the installer) and <strong>{{customer.name}}</strong>{{#if customer.address}}, {{customer.address}}{{/if}} (the customer).</p>
<h2>Scope and price</h2>
<table>
<thead><tr><th>Item</th><th class="n">Quantity</th><th class="n">Unit price</th><th class="n">Amount</th></tr></thead>
<tbody>
{{#each lines}}<tr><td>{{description}}</td><td class="n">{{quantity}}</td><td class="n">{{unitPrice}}</td><td class="n">{{amount}}</td></tr>
{{/each}}</tbody>
<tfoot><tr><th colspan="3">Total</th><th class="n">{{total}}</th></tr></tfoot>
</table>
<h2>Terms</h2>
<p>The customer accepts proposal {{proposalId}} as priced above. An invoice for the total follows the signature and is
payable by its due date. The installer schedules the installation once the invoice is paid.</p>
</body>
</html>
`;

const template = Handlebars.compile(CONTRACT_TEMPLATE, { strict: true });

export interface RenderedDocument {
  content: Buffer;
  sha256: string;
  contentType: string;
}

export function sha256(content: Buffer | string): string {
  return createHash('sha256').update(content).digest('hex');
}

/** The contract as the customer will see and sign it; Handlebars escapes every value. */
export function renderContract(input: {
  contractId: string;
  version: number;
  sellerName: string;
  proposal: Proposal;
}): RenderedDocument {
  const { proposal } = input;
  const money = (amount: number) => formatMoney(amount, proposal.currency);
  const html = template({
    contractId: input.contractId,
    version: input.version,
    sellerName: input.sellerName,
    title: proposal.title,
    proposalId: proposal.proposalId,
    customer: { name: proposal.customer.name, address: proposal.customer.address ?? '' },
    lines: proposal.lines.map((line) => ({
      description: line.description,
      quantity: line.quantity,
      unitPrice: money(line.unitPrice),
      amount: money(line.quantity * line.unitPrice),
    })),
    total: money(proposalTotal(proposal)),
  });
  const content = Buffer.from(html, 'utf8');
  return { content, sha256: sha256(content), contentType: 'text/html; charset=utf-8' };
}
