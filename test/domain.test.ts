import { describe, expect, it } from 'vitest';
import { StartProposalToPayment } from '../domain/proposalToPayment.schema.js';

describe('flow settings', () => {
  it('fill every default a start request leaves out, down to the retry policy', () => {
    const parsed = StartProposalToPayment.parse({
      proposal: {
        proposalId: 'P-1',
        title: 'Solar',
        currency: 'EUR',
        customer: { name: 'Ada', email: 'ada@example.com' },
        lines: [{ description: 'Panel', quantity: 1, unitPrice: 100 }],
      },
    });
    expect(parsed.signing).toEqual({ deadline: '14 days', remindEvery: '3 days' });
    expect(parsed.payment).toEqual({ dueIn: '14 days', dunning: ['3 days', '10 days', '20 days'] });
    // Without a bounded retry policy a failing step would retry for ever instead of asking an operator.
    expect(parsed.retry).toEqual({
      maximumAttempts: 5,
      initialInterval: '1 second',
      maximumInterval: '1 minute',
      attemptTimeout: '1 minute',
    });
  });
});
