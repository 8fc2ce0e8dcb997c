import { z } from 'zod';

export const Role = z.enum([
  'admin',
  'coordinator',
  'finance',
  'installer',
  'architect',
  'warehouse',
  'viewer',
]);
export type Role = z.infer<typeof Role>;
