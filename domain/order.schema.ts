import { z } from 'zod';
import { AutomationDevice, ScenarioName } from './automation.schema.js';
import { RetrySettings } from './durations.js';
import { type DecisionSchemas, NoInput } from './flow.schema.js';
import { SiteAddress } from './leadToInstall.schema.js';
import { BusinessId, Currency, MAX_AMOUNT } from './proposal.js';

/** Hardware orders, their prices, shipments and fulfillment: the schemas of the API and the activities. */

const UnitPrice = z.number().int().nonnegative().max(100_000_000_00).describe('In minor units (cents)');
const StripePriceId = z.string().regex(/^price_[A-Za-z0-9]{1,100}$/, { error: 'must be a Stripe price id' });
export const Sku = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'must be a SKU' });
/** A sales region ("EU-West"); the empty region is the global price book. */
export const Region = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, { error: 'must be a region code' });

export const PriceBookEntryRequest = z.object({
  region: Region.optional().describe('Absent: the global entry'),
  currency: Currency,
  name: z.string().trim().min(1).max(200),
  unitPrice: UnitPrice,
  stripePriceId: StripePriceId.optional().describe('The Stripe Price this entry is synced to'),
});
export type PriceBookEntryRequest = z.infer<typeof PriceBookEntryRequest>;

export const CompanyPriceRequest = z.object({
  currency: Currency,
  unitPrice: UnitPrice,
  agreement: z.string().trim().min(1).max(200).describe('The agreement that sets this price'),
  stripePriceId: StripePriceId.optional(),
});
export type CompanyPriceRequest = z.infer<typeof CompanyPriceRequest>;

/** Where a line's price came from, in the order the price rules try them (a bespoke price is given by staff). */
export const PRICE_SOURCES = [
  'company_agreement',
  'price_book_regional',
  'price_book_global',
  'bespoke',
] as const;
export type PriceSource = (typeof PRICE_SOURCES)[number];

export const NewOrderLine = z.object({
  sku: Sku,
  quantity: z.number().int().positive().max(100_000),
  bespoke: z
    .object({
      description: z.string().trim().min(1).max(500),
      unitPrice: UnitPrice,
      notes: z.string().trim().min(1).max(2_000).describe('Why this price: who agreed it, and when'),
      stripePriceId: StripePriceId.optional(),
    })
    .optional()
    .describe('A price agreed for this order alone, instead of the price rules'),
});

export const NewOrder = z.object({
  companyId: BusinessId,
  billingContactId: z.uuid(),
  billingAddressId: z.uuid().optional().describe('Absent: the company’s default billing address'),
  region: Region.optional(),
  currency: Currency,
  paymentTerms: z.enum(['prepaid', 'on_terms']).default('prepaid'),
  lines: z
    .array(NewOrderLine)
    .min(1)
    .max(100)
    .superRefine((lines, ctx) => {
      const most = lines.reduce((sum, line) => sum + line.quantity * (line.bespoke?.unitPrice ?? 0), 0);
      if (most > MAX_AMOUNT) ctx.addIssue({ code: 'custom', message: `the total exceeds ${MAX_AMOUNT}` });
    }),
});
export type NewOrder = z.infer<typeof NewOrder>;

/** Where a shipment goes: an address of the company's book, or a new one (saved to the book when labelled). */
export const Destination = z
  .object({
    addressId: z.uuid().optional(),
    address: SiteAddress.optional(),
    saveAs: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .describe('Saves a new address to the book under this label'),
  })
  .superRefine((destination, ctx) => {
    if (!destination.addressId === !destination.address)
      ctx.addIssue({ code: 'custom', path: ['address'], message: 'give either addressId or address' });
    if (destination.saveAs && !destination.address)
      ctx.addIssue({ code: 'custom', path: ['saveAs'], message: 'only a new address is saved' });
  });
export type Destination = z.infer<typeof Destination>;

export const ItemAutomation = z.object({
  scenario: ScenarioName,
  device: AutomationDevice.omit({ companyId: true }),
});

export const NewShipment = z.object({
  destination: Destination,
  items: z
    .array(
      z.object({
        line: z.number().int().nonnegative().max(99).describe('The order line (0 is the first)'),
        quantity: z.number().int().positive().max(100_000),
        automation: z
          .array(ItemAutomation)
          .max(5)
          .default([])
          .describe('What runs in the legacy system once the item is delivered, one step per scenario'),
      }),
    )
    .min(1)
    .max(100),
});
export type NewShipment = z.infer<typeof NewShipment>;

export const Dispatch = z.object({
  courierCode: z.string().regex(/^[a-z0-9-]{2,40}$/, { error: 'must be a courier code' }),
  trackingNumber: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9-]{4,60}$/, { error: 'must be a tracking number' }),
});
export type Dispatch = z.infer<typeof Dispatch>;

export const orderFulfillmentDecisions = { retry: NoInput } satisfies DecisionSchemas;

export const OrderFulfillmentInput = z.object({
  tenantId: z.uuid(),
  tenantSlug: z.string(),
  orderId: z.uuid(),
  orderNumber: z.string(),
  retry: RetrySettings.prefault({}),
});
export type OrderFulfillmentInput = z.infer<typeof OrderFulfillmentInput>;
