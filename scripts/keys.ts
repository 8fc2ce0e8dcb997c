import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createApiKey } from '../api/apiKeys.js';
import { createDb } from '../db/client.js';
import { migrateToLatest } from '../db/migrate.js';
import { ensureTenant } from '../db/tenants.js';
import { Role } from '../domain/roles.js';
import { configOrExit } from '../runtime/config.js';
import { openDatabase } from './stack/database.js';

const USAGE = `usage: npm run keys -- create --tenant <slug> --roles <role,role> [--name <label>] [--tenant-name <name>]
roles: ${Role.options.join(', ')}`;

const Args = z.object({
  tenant: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: 'tenant must be a slug (a-z, 0-9, -)' }),
  roles: z
    .string()
    .transform((value) => value.split(',').map((r) => r.trim()))
    .pipe(z.array(Role).min(1)),
  name: z.string().min(1).optional(),
  'tenant-name': z.string().min(1).optional(),
});

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    tenant: { type: 'string' },
    roles: { type: 'string' },
    name: { type: 'string' },
    'tenant-name': { type: 'string' },
  },
});
const parsed = Args.safeParse(values);
if (positionals[0] !== 'create' || !parsed.success) {
  if (!parsed.success)
    process.stderr.write(
      `${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n')}\n`,
    );
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}

const args = parsed.data;
const config = configOrExit();
const database = await openDatabase(config);
const db = createDb(database.url, 1);
try {
  await migrateToLatest(db);
  const tenant = await ensureTenant(db, args.tenant, args['tenant-name'] ?? args.tenant);
  const key = await createApiKey(db, {
    tenantId: tenant.id,
    name: args.name ?? `${args.roles.join('+')} key`,
    roles: args.roles,
  });
  process.stdout.write(
    `tenant ${args.tenant}${tenant.created ? ' (created)' : ''}, roles ${args.roles.join(', ')}\n`,
  );
  process.stdout.write(`${key.key}\n(shown once: store it now)\n`);
} finally {
  await db.destroy();
  await database.stop();
}
