import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { openBytes, sealBytes } from './aesGcm.js';

/**
 * Everything Flowdesk writes to Temporal (workflow and activity inputs and results, signals, updates, queries,
 * failure messages and stack traces) is encrypted before it leaves the process, so a history read in the
 * Temporal UI or through the namespace shows no customer data and no link. AES-256-GCM over the whole payload,
 * with the id of its key in the payload's metadata: keys rotate by adding a new first key and keeping the old
 * ones for the histories they wrote. Payloads written before encryption pass through as they are.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
// A CommonJS module: its namespace comes as the default export under Node's ESM loader.
const { temporal } = proto;

export interface PayloadKey {
  id: string;
  key: Buffer;
}

const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array | null | undefined) => new TextDecoder().decode(bytes ?? new Uint8Array());

/**
 * Keys as configured: `id:base64` entries separated by commas, the first one the key new payloads use.
 * Returns why they are unusable instead, never echoing a key.
 */
export function parsePayloadKeys(setting: string): PayloadKey[] | string {
  const keys: PayloadKey[] = [];
  for (const [i, entry] of setting.split(',').entries()) {
    const [id, material, ...rest] = entry.trim().split(':');
    if (!id || !material || rest.length > 0 || !/^[\w.-]{1,64}$/.test(id))
      return `entry ${i + 1} must be <key id>:<base64 key> (the key id letters, digits, ".", "_" or "-")`;
    const key = Buffer.from(material, 'base64');
    if (key.length !== 32) return `key "${id}" must be 32 bytes, base64-encoded (openssl rand -base64 32)`;
    if (keys.some((known) => known.id === id)) return `key id "${id}" is given twice`;
    keys.push({ id, key });
  }
  return keys.length > 0 ? keys : 'no key given';
}

/** A new key entry for PAYLOAD_KEYS, as `npm start` writes one on first start. */
export function newPayloadKey(id = `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

export class EncryptionCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly current: PayloadKey;

  constructor(keys: readonly PayloadKey[]) {
    const [current] = keys;
    if (!current) throw new Error('EncryptionCodec needs at least one key');
    this.current = current;
    this.byId = new Map(keys.map(({ id, key }) => [id, key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const sealed = sealBytes(this.current.key, temporal.api.common.v1.Payload.encode(payload).finish());
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING),
          [KEY_ID_METADATA]: utf8(this.current.id),
        },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
      const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
      const key = this.byId.get(keyId);
      if (!key) throw new Error(`no payload key "${keyId}" is configured (PAYLOAD_KEYS)`);
      return temporal.api.common.v1.Payload.decode(
        openBytes(key, Buffer.from(payload.data ?? new Uint8Array())),
      );
    });
  }
}

/** The failure converter by path, as workers and the workflow bundler take it (beside this file in dist too). */
export const FAILURE_CONVERTER_PATH = fileURLToPath(new URL('./failureConverter.cjs', import.meta.url));

/** How Flowdesk's clients and workers write to Temporal: every payload encrypted, failures' text too. */
export function flowdeskDataConverter(keys: readonly PayloadKey[]) {
  return { payloadCodecs: [new EncryptionCodec(keys)], failureConverterPath: FAILURE_CONVERTER_PATH };
}

export type FlowdeskDataConverter = ReturnType<typeof flowdeskDataConverter>;
