import { z } from 'zod';
import { SiteAddress } from './leadToInstall.schema.js';
import { BusinessId } from './proposal.js';

/** Companies hardware is sold to, their contacts and address book: schemas for the API. */

export const CONTACT_ROLES = ['billing', 'shipping', 'operations', 'technical', 'executive'] as const;
export const ContactRole = z.enum(CONTACT_ROLES);
export type ContactRole = z.infer<typeof ContactRole>;

export const CompanyRequest = z.object({ name: z.string().trim().min(1).max(200) });

export const NewContact = z
  .object({
    name: z.string().trim().min(1).max(200),
    email: z.email(),
    phone: z
      .string()
      .regex(/^\+?[0-9 ()-]{5,30}$/, { error: 'must be a phone number' })
      .optional(),
    roles: z.array(ContactRole).min(1).max(5),
    /** The roles this contact becomes the company's primary contact for (each one of its own roles). */
    primaryFor: z.array(ContactRole).max(5).default([]),
  })
  .superRefine((contact, ctx) => {
    for (const [index, role] of contact.primaryFor.entries())
      if (!contact.roles.includes(role))
        ctx.addIssue({
          code: 'custom',
          path: ['primaryFor', index],
          message: `the contact has no ${role} role`,
        });
  });
export type NewContact = z.infer<typeof NewContact>;

export const NewAddress = SiteAddress.extend({
  label: z.string().trim().min(1).max(100),
  defaultShipping: z.boolean().default(false),
  defaultBilling: z.boolean().default(false),
});
export type NewAddress = z.infer<typeof NewAddress>;

export const CompanyId = BusinessId;

/** A courier's code: how shipments and tracking name it. */
export const CourierCode = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,39}$/, { error: 'must be 2-40 lowercase letters, digits or "-"' });
/** A courier a tenant ships with, as its admins set it. */
export const CourierSettings = z.object({
  code: z.string(),
  name: z.string().trim().min(1).max(100),
  // A template, not a URL yet: its braces are not URL characters.
  trackingUrlTemplate: z
    .string()
    .max(500)
    .regex(/^https:\/\/[^\s/]+\/\S*\{tracking\}\S*$/, { error: 'must be an https URL holding {tracking}' })
    .describe('The tracking page; {tracking} is replaced by the tracking number'),
  adapter: z.enum(['aftership', 'poll']).describe('Tracking by AfterShip webhooks, or by polling'),
});
export type CourierSettings = z.infer<typeof CourierSettings>;
