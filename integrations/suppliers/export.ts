import type { SupplierOrderLine } from '../../domain/supplierOrder.js';

export interface OrderForExport {
  orderId: string;
  buyer: string;
  supplierName: string;
  deliverTo?: string;
  lines: SupplierOrderLine[];
}

function csvField(value: string | number): string {
  const text = String(value);
  // A leading =, +, - or @ would be run as a formula by a spreadsheet: it is quoted out.
  const safe = /^[=+\-@]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) || safe !== text ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The order's lines as CSV (RFC 4180, CRLF), for suppliers who key orders in from a spreadsheet. */
export function orderCsv(order: OrderForExport): string {
  const rows = [
    ['order', 'line', 'sku', 'description', 'quantity'],
    ...order.lines.map((line, index) => [
      order.orderId,
      index + 1,
      line.sku,
      line.description,
      line.quantity,
    ]),
  ];
  return `${rows.map((row) => row.map(csvField).join(',')).join('\r\n')}\r\n`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** The same order as a document a person reads and prints. */
export function orderDocument(order: OrderForExport): string {
  const rows = order.lines
    .map(
      (line, index) =>
        `<tr><td>${index + 1}</td><td>${escapeHtml(line.sku)}</td><td>${escapeHtml(line.description)}</td><td style="text-align:right">${line.quantity}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Purchase order ${escapeHtml(order.orderId)}</title></head>
<body style="font-family: sans-serif">
<h1>Purchase order ${escapeHtml(order.orderId)}</h1>
<p>From ${escapeHtml(order.buyer)} to ${escapeHtml(order.supplierName)}</p>
${order.deliverTo ? `<p>Deliver to: ${escapeHtml(order.deliverTo)}</p>` : ''}
<table border="1" cellpadding="4" cellspacing="0">
<thead><tr><th>Line</th><th>SKU</th><th>Description</th><th>Quantity</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p>Please confirm receipt of this order by replying to this email, quoting ${escapeHtml(order.orderId)}.</p>
</body></html>
`;
}
