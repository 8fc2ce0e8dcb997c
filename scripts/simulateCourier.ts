import { parseArgs } from 'node:util';
import { type Duration, msToNumber } from '@temporalio/common';
import { startCourierSimulator } from './simulators/courier.js';

/**
 * `npm run simulate:courier -- [options]`: a courier reported the way AfterShip reports it, on this machine. It
 * answers polls at `GET /trackings/{slug}/{trackingNumber}`; trackings started with `--track slug/number` send
 * signed webhooks to `--callback`.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4020' },
    'webhook-secret': { type: 'string', default: 'sim-courier-webhook-secret-0123456789' },
    callback: { type: 'string' },
    track: { type: 'string', multiple: true, default: [] },
    'in-transit-after': { type: 'string', default: '2 seconds' },
    'deliver-after': { type: 'string', default: '6 seconds' },
    copies: { type: 'string', default: '1' },
    shuffle: { type: 'boolean', default: false },
    late: { type: 'string', default: '0 ms' },
  },
});

const ms = (text: string) => msToNumber(text as Duration);
const courier = await startCourierSimulator({
  port: Number(values.port),
  webhookSecret: values['webhook-secret'],
  schedule: {
    InfoReceived: 0,
    InTransit: ms(values['in-transit-after']),
    Delivered: ms(values['deliver-after']),
  },
  faults: { webhookCopies: Number(values.copies), shuffleWebhooks: values.shuffle, lateMs: ms(values.late) },
});
for (const entry of values.track) {
  const [slug = '', trackingNumber = ''] = entry.split('/');
  courier.track(slug, trackingNumber, values.callback);
}
process.stdout.write(`courier simulator on ${courier.url} (webhooks signed with aftership-hmac-sha256)\n`);
const stop = () => void courier.stop().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
