import { z } from 'zod';

/**
 * Status analytics: sources, the settings figures are computed with (working hours, SLA grids, cycles, urgent
 * rules, per-order overrides), and KeyCRM's status webhook, as the API and the CRM client take them.
 */

const isTimeZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};
export const TimeZone = z
  .string()
  .refine(isTimeZone, { error: 'must be an IANA time zone, like Europe/Kyiv' })
  .describe('IANA time zone');

const Ipv4Cidr = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\/(\d|[12]\d|3[0-2]))?$/;
const isCidr = (value: string) => {
  const match = Ipv4Cidr.exec(value);
  if (match) return match.slice(1, 5).every((octet) => Number(octet) <= 255);
  // IPv6, with an optional prefix length.
  const [address, prefix] = value.split('/');
  return (
    /^[0-9a-f:]+$/i.test(address ?? '') &&
    (address ?? '').includes(':') &&
    (prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= 128))
  );
};
export const IpRange = z
  .string()
  .refine(isCidr, { error: 'must be an IP address or a CIDR range' })
  .describe('An address (203.0.113.7) or a range (203.0.113.0/24)');

export const SOURCE_KINDS = ['flowdesk', 'keycrm'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

export const NewSource = z.object({
  kind: z.literal('keycrm').describe('An outside CRM (KeyCRM); the tenant’s own flows are a source already'),
  name: z.string().trim().min(1).max(100),
  baseUrl: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .describe('The CRM’s API, like https://openapi.keycrm.app/v1'),
  apiToken: z.string().min(8).max(500).describe('The CRM API token (kept sealed, never shown again)'),
  timezone: TimeZone.default('UTC').describe('How the CRM’s times without an offset are read'),
  allowedIps: z.array(IpRange).max(50).default([]).describe('Empty: any address may deliver'),
  active: z.boolean().default(true),
});
export type NewSource = z.infer<typeof NewSource>;

export const SourceChange = NewSource.omit({ kind: true }).partial();
export type SourceChange = z.infer<typeof SourceChange>;

const Clock = z
  .string()
  .regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, { error: 'must be a time of day, HH:MM (24:00 ends a day)' });
const Window = z
  .tuple([Clock, Clock])
  .refine(([from, to]) => from < to, { error: 'must start before it ends' });
/** Windows a day may have: figures add them up term by term (db/analytics/figures.ts). */
export const MAX_WINDOWS = 6;
const DayWindows = z
  .array(Window)
  .max(MAX_WINDOWS)
  .refine(
    (windows) =>
      [...windows]
        .sort((a, b) => a[0].localeCompare(b[0]))
        .every((w, i, all) => i === 0 || (all[i - 1]?.[1] ?? '') <= w[0]),
    { error: 'windows must not overlap' },
  );

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** `*` is the source's default; any other is a status group's own. */
export const GroupRef = z.string().regex(/^(\*|[A-Za-z0-9][A-Za-z0-9._:-]{0,99})$/, {
  error: 'must be a status group id, or * for the default',
});

export const WorkCalendar = z.object({
  groupId: GroupRef,
  timezone: TimeZone,
  week: z
    .object({
      mon: DayWindows.default([]),
      tue: DayWindows.default([]),
      wed: DayWindows.default([]),
      thu: DayWindows.default([]),
      fri: DayWindows.default([]),
      sat: DayWindows.default([]),
      sun: DayWindows.default([]),
    })
    .describe(
      'Working windows per weekday, like [["09:00","13:00"],["14:00","18:00"]]; a day left out is off',
    ),
  holidays: z.array(z.iso.date()).max(400).default([]).describe('Days off, in the calendar’s time zone'),
});
export type WorkCalendar = z.infer<typeof WorkCalendar>;

const uniqueBy =
  <T>(key: (item: T) => string, what: string) =>
  (items: T[], ctx: z.RefinementCtx) => {
    const seen = new Set<string>();
    items.forEach((item, index) => {
      const k = key(item);
      if (seen.has(k))
        ctx.addIssue({ code: 'custom', path: [index], message: `${what} ${k} is given twice` });
      seen.add(k);
    });
  };

export const WorkingHoursSettings = z.object({
  calendars: z
    .array(WorkCalendar)
    .max(100)
    .superRefine(uniqueBy((calendar) => calendar.groupId, 'group'))
    .describe('None: every group counts 24/7'),
});
export type WorkingHoursSettings = z.infer<typeof WorkingHoursSettings>;

const Limit = z
  .string()
  .regex(/^\d{1,4}:[0-5]\d$/, { error: 'must be hours:minutes, like 24:00 or 1:30' })
  .refine((value) => value !== '0:00' && !/^0+:00$/.test(value), { error: 'must be longer than zero' });
export const SlaProfileName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, { error: 'must be a profile name' });

export const SlaSettings = z.object({
  nearFraction: z
    .number()
    .gt(0)
    .lt(1)
    .default(0.8)
    .describe('A stage is `near` its limit from this fraction of it, `over` past it'),
  profiles: z
    .array(
      z.object({
        profile: SlaProfileName.describe('`default` applies unless an order’s override names another'),
        limits: z
          .array(
            z.object({
              groupId: GroupRef.refine((id) => id !== '*', { error: 'must be a status group' }),
              normal: Limit.nullable(),
              urgent: Limit.nullable().describe('Null: urgent orders have the normal limit'),
            }),
          )
          .max(100)
          .superRefine(uniqueBy((limit) => limit.groupId, 'group')),
      }),
    )
    .max(20)
    .superRefine(uniqueBy((profile) => profile.profile, 'profile')),
});
export type SlaSettings = z.infer<typeof SlaSettings>;

export const CycleBound = z.object({
  kind: z.enum(['group', 'status']),
  ref: z.string().min(1).max(100),
});
export type CycleBound = z.infer<typeof CycleBound>;

export const CycleCode = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, { error: 'must be a cycle code' });
export const CycleSettings = z.object({
  cycles: z
    .array(
      z.object({
        code: CycleCode,
        name: z.string().trim().min(1).max(100),
        start: CycleBound.describe('The cycle starts when an order first enters this'),
        end: CycleBound.describe('…and ends when it first enters this afterwards'),
      }),
    )
    .max(20)
    .superRefine(uniqueBy((cycle) => cycle.code, 'cycle')),
});
export type CycleSettings = z.infer<typeof CycleSettings>;

export const URGENT_MATCHES = ['sku', 'offer_id', 'product_id'] as const;
export const UrgentRuleSettings = z.object({
  rules: z
    .array(z.object({ match: z.enum(URGENT_MATCHES), value: z.string().trim().min(1).max(200) }))
    .max(200)
    .superRefine(uniqueBy((rule) => `${rule.match}=${rule.value}`, 'rule')),
});
export type UrgentRuleSettings = z.infer<typeof UrgentRuleSettings>;

export const OrderOverride = z.object({
  urgent: z.boolean().nullable().describe('Null: urgency by the rules'),
  slaProfile: SlaProfileName.nullable().describe('Null: the `default` profile'),
  cycles: z
    .record(CycleCode, z.object({ start: CycleBound.optional(), end: CycleBound.optional() }))
    .default({})
    .describe('Bounds this order’s cycles by other statuses or groups'),
});
export type OrderOverride = z.infer<typeof OrderOverride>;

const CrmId = z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,18}$/)]).transform(String);
/** A time with an offset, or KeyCRM's `YYYY-MM-DD HH:MM:SS`, read in the source's time zone. */
const CrmTime = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$/, {
    error: 'must be a date and time, like 2026-03-29 09:15:00 or 2026-03-29T09:15:00+03:00',
  });

/**
 * KeyCRM's outgoing webhook for an order's status change (a "Send webhook" action of a status trigger): the event
 * name and the order in `context`. Only the fields analytics reads are named; the rest are ignored.
 */
export const KeyCrmWebhook = z.object({
  event: z.string().min(1).max(100),
  context: z.object({
    id: CrmId.describe('The order id'),
    status_id: CrmId,
    status_group_id: CrmId.optional(),
    status_changed_at: CrmTime,
    created_at: CrmTime.optional(),
  }),
});
export type KeyCrmWebhook = z.infer<typeof KeyCrmWebhook>;
