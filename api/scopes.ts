import type { Principal } from './apiKeys.js';
import { NOBODY } from './routes/shared.js';

/**
 * Whose records a key or a signed-in person reads, by their roles: architects their own architect's leads, crews
 * their own crew's jobs; staff everyone's. One rule for the API and the console.
 */
type Who = Pick<Principal, 'roles' | 'architectId' | 'crewId'>;

const onlyOwnLeads = (who: Who) =>
  who.roles.includes('architect') &&
  !who.roles.some((role) => ['admin', 'coordinator', 'viewer', 'finance'].includes(role));

/** The architect whose leads `who` reads, or nothing for everyone's. An architect naming nobody reads none. */
export const leadScope = (who: Who) => (onlyOwnLeads(who) ? (who.architectId ?? NOBODY) : undefined);

/** The crew whose jobs `who` works on, or nothing (coordinators) for every crew's. */
export const crewScope = (who: Who) =>
  who.roles.some((role) => role === 'admin' || role === 'coordinator') ? null : (who.crewId ?? NOBODY);
