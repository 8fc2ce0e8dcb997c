import { z } from 'zod';
import { Currency, MAX_AMOUNT } from './proposal.js';
import { SupplierCode } from './supplier.js';

/** A tenant's catalogue: what customers choose from in the configurator, and who produces it. */
export const CatalogueItem = z
  .object({
    sku: z.string().trim().min(1).max(64),
    kind: z.enum(['panel', 'inverter', 'accessory']),
    name: z.string().trim().min(1).max(200),
    /** The producer: one of the tenant's suppliers, by code. */
    supplier: SupplierCode,
    /** In minor units (cents). */
    unitPrice: z.number().int().nonnegative().max(MAX_AMOUNT),
    currency: Currency,
    leadTimeDays: z.number().int().min(0).max(365),
    /** Per installation site: at least, at most, and in packs of. */
    minPerSite: z.number().int().min(0).max(100_000).default(0),
    maxPerSite: z.number().int().positive().max(100_000).optional(),
    packOf: z.number().int().positive().max(10_000).default(1),
    active: z.boolean().default(true),
  })
  .refine((item) => item.maxPerSite === undefined || item.maxPerSite >= item.minPerSite, {
    error: 'must be at least minPerSite',
    path: ['maxPerSite'],
  });
export type CatalogueItem = z.infer<typeof CatalogueItem>;

/** A selection line as it was locked: the catalogue's price, producer and lead time then. */
export const PricedLine = z.object({
  sku: z.string(),
  name: z.string(),
  kind: z.string(),
  quantity: z.number().int(),
  unitPrice: z.number().int(),
  supplierId: z.uuid(),
  supplierCode: z.string(),
  leadTimeDays: z.number().int(),
});
export type PricedLine = z.infer<typeof PricedLine>;
