import { parseArgs } from 'node:util';
import { type Duration, msToNumber } from '@temporalio/common';
import { startSupplierSimulator } from './simulators/supplier.js';

/**
 * `npm run simulate:supplier -- [options]`: a supplier speaking the `rest` protocol on this machine, for the demo
 * and for trying a supplier configuration out. Register it in Flowdesk as a `rest` supplier with its URL, the
 * same credentials and webhook secret.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4010' },
    credentials: { type: 'string', default: 'sim-credentials' },
    'webhook-secret': { type: 'string', default: 'sim-webhook-secret-0123456789' },
    'accept-after': { type: 'string', default: '2 seconds' },
    'produce-after': { type: 'string', default: '4 seconds' },
    'ship-after': { type: 'string', default: '8 seconds' },
    'promise-ship-in': { type: 'string', default: '1 day' },
    'fail-next': { type: 'string', default: '0' },
    lag: { type: 'string', default: '0 ms' },
    copies: { type: 'string', default: '1' },
    shuffle: { type: 'boolean', default: false },
  },
});

const ms = (text: string) => msToNumber(text as Duration);
const simulator = await startSupplierSimulator({
  port: Number(values.port),
  credentials: values.credentials,
  webhookSecret: values['webhook-secret'],
  schedule: {
    accepted: ms(values['accept-after']),
    in_production: ms(values['produce-after']),
    shipped: ms(values['ship-after']),
  },
  promiseShipIn: ms(values['promise-ship-in']),
  faults: {
    failNext: Number(values['fail-next']),
    lagMs: ms(values.lag),
    webhookCopies: Number(values.copies),
    shuffleWebhooks: values.shuffle,
  },
});
process.stdout.write(
  [
    `Supplier simulator on ${simulator.url}`,
    `  credentials     ${values.credentials}`,
    `  webhook secret  ${values['webhook-secret']}`,
    `  orders          GET ${simulator.url}/_sim/orders`,
    `  faults          PUT ${simulator.url}/_sim/faults {"down":true}`,
    '',
  ].join('\n'),
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void simulator.stop().then(() => process.exit(0));
  });
}
