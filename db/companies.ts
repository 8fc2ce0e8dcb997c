import { type Kysely, sql } from 'kysely';
import type { ContactRole, NewAddress, NewContact } from '../domain/company.schema.js';
import type { Actor } from '../domain/flow.js';
import { appendEvent } from './events.js';
import type { Database } from './schema.js';

/**
 * Companies, their contacts and address book: the one place they are written, each change an audit event keyed
 * by the server's request id. A new default address or primary contact replaces the one before.
 */

export interface CompanyView {
  companyId: string;
  name: string;
  contacts: { contactId: string; name: string; email: string; phone: string | null; roles: ContactRole[] }[];
  primaryContacts: Partial<Record<ContactRole, string>>;
  addresses: {
    addressId: string;
    label: string;
    street: string;
    postcode: string;
    city: string;
    country: string;
    defaultShipping: boolean;
    defaultBilling: boolean;
  }[];
}

type Change = { tenantId: string; companyKey: string; actor: Actor; requestId: string };

async function companyRow(db: Kysely<Database>, tenantId: string, companyKey: string) {
  return db
    .selectFrom('companies')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('company_key', '=', companyKey)
    .executeTakeFirst();
}

async function companyEvent(
  trx: Kysely<Database>,
  change: Change,
  type: string,
  payload: Record<string, unknown>,
): Promise<void> {
  await appendEvent(trx, {
    tenantId: change.tenantId,
    type,
    actor: change.actor,
    entity: { type: 'company', id: change.companyKey },
    payload,
    idempotencyKey: `company/${change.tenantId}/${change.companyKey}/${type}/${change.requestId}`,
  });
}

/** Creates the company or renames it; `created` says which. */
export async function saveCompany(
  db: Kysely<Database>,
  change: Change & { name: string },
): Promise<{ created: boolean }> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('companies')
      .values({ tenant_id: change.tenantId, company_key: change.companyKey, name: change.name })
      .onConflict((oc) =>
        oc.columns(['tenant_id', 'company_key']).doUpdateSet({ name: change.name, updated_at: sql`now()` }),
      )
      .returning(sql<boolean>`xmax = 0`.as('created'))
      .executeTakeFirstOrThrow();
    await companyEvent(trx, change, row.created ? 'company.created' : 'company.renamed', {
      name: change.name,
    });
    return { created: row.created };
  });
}

/** Adds a contact (its email once per company), and makes it the primary contact for `primaryFor`. */
export async function addContact(
  db: Kysely<Database>,
  change: Change & { contact: NewContact },
): Promise<'added' | 'no_company' | 'email_taken'> {
  return db.transaction().execute(async (trx) => {
    const company = await companyRow(trx, change.tenantId, change.companyKey);
    if (!company) return 'no_company';
    const { contact } = change;
    const row = await trx
      .insertInto('company_contacts')
      .values({
        tenant_id: change.tenantId,
        company_id: company.id,
        name: contact.name,
        email: contact.email,
        phone: contact.phone ?? null,
        roles: contact.roles,
      })
      .onConflict((oc) => oc.columns(['company_id', 'email']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!row) return 'email_taken';
    for (const role of contact.primaryFor)
      await trx
        .insertInto('company_primary_contacts')
        .values({ company_id: company.id, role, contact_id: row.id })
        .onConflict((oc) => oc.columns(['company_id', 'role']).doUpdateSet({ contact_id: row.id }))
        .execute();
    await companyEvent(trx, change, 'company.contact.added', {
      contactId: row.id,
      roles: contact.roles,
      primaryFor: contact.primaryFor,
    });
    return 'added';
  });
}

/** Adds an address to the book; as a default it replaces the company's default of that kind. */
export async function addAddress(
  db: Kysely<Database>,
  change: Change & { address: NewAddress },
): Promise<'added' | 'no_company'> {
  return db.transaction().execute(async (trx) => {
    const company = await companyRow(trx, change.tenantId, change.companyKey);
    if (!company) return 'no_company';
    const { address } = change;
    if (address.defaultShipping)
      await trx
        .updateTable('company_addresses')
        .set({ default_shipping: false })
        .where('company_id', '=', company.id)
        .where('default_shipping', '=', true)
        .execute();
    if (address.defaultBilling)
      await trx
        .updateTable('company_addresses')
        .set({ default_billing: false })
        .where('company_id', '=', company.id)
        .where('default_billing', '=', true)
        .execute();
    const row = await trx
      .insertInto('company_addresses')
      .values({
        tenant_id: change.tenantId,
        company_id: company.id,
        label: address.label,
        street: address.street,
        postcode: address.postcode,
        city: address.city,
        country: address.country,
        default_shipping: address.defaultShipping,
        default_billing: address.defaultBilling,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await companyEvent(trx, change, 'company.address.added', { addressId: row.id, ...address });
    return 'added';
  });
}

export async function findCompany(
  db: Kysely<Database>,
  tenantId: string,
  companyKey: string,
): Promise<CompanyView | undefined> {
  const company = await companyRow(db, tenantId, companyKey);
  if (!company) return undefined;
  const [contacts, primaries, addresses] = await Promise.all([
    db
      .selectFrom('company_contacts')
      .selectAll()
      .where('company_id', '=', company.id)
      .orderBy('created_at')
      .execute(),
    db.selectFrom('company_primary_contacts').selectAll().where('company_id', '=', company.id).execute(),
    db
      .selectFrom('company_addresses')
      .selectAll()
      .where('company_id', '=', company.id)
      .orderBy('created_at')
      .execute(),
  ]);
  return {
    companyId: company.company_key,
    name: company.name,
    contacts: contacts.map((contact) => ({
      contactId: contact.id,
      name: contact.name,
      email: contact.email,
      phone: contact.phone,
      roles: contact.roles as ContactRole[],
    })),
    primaryContacts: Object.fromEntries(primaries.map((primary) => [primary.role, primary.contact_id])),
    addresses: addresses.map((address) => ({
      addressId: address.id,
      label: address.label,
      street: address.street,
      postcode: address.postcode,
      city: address.city,
      country: address.country,
      defaultShipping: address.default_shipping,
      defaultBilling: address.default_billing,
    })),
  };
}
