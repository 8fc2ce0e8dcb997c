import { z } from 'zod';

/**
 * The legacy system's device and asset API as Flowdesk's bridge speaks it (README, "Legacy bridge"): JSON over
 * HTTP with a bearer token. Every call carries `X-Correlation-Id`; registering a device carries `Idempotency-Key`,
 * so a retry after a lost answer finds the device instead of registering it twice.
 */

export const RegisterDeviceRequest = z.object({
  serial: z.string().min(1).max(100),
  model: z.string().min(1).max(100),
  companyId: z.string().min(1).max(100),
  /** Who supplied the device: the company itself or a partner. */
  channel: z.enum(['vendor', 'partner']),
  /** The device it replaces, for a replacement. */
  replaces: z.string().max(100).optional(),
});
export type RegisterDeviceRequest = z.infer<typeof RegisterDeviceRequest>;

export const Device = z.object({ deviceId: z.string(), serial: z.string(), status: z.string() });
export type Device = z.infer<typeof Device>;

export const AssetAssignment = z.object({ assetId: z.string(), deviceId: z.string(), assigned: z.boolean() });
export type AssetAssignment = z.infer<typeof AssetAssignment>;

export const CompanyMirror = z.object({
  companyId: z.string(),
  devices: z.number().int(),
  syncedAt: z.string(),
});
export type CompanyMirror = z.infer<typeof CompanyMirror>;
