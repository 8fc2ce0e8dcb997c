import { z } from '@hono/zod-openapi';
import { fieldErrors } from '../problem.js';

/**
 * Forms built from the zod schemas the API validates with (through their JSON Schema), so a page's fields are the
 * API's fields: a decision's input, a setting. A field is named by its path under a prefix (`input.device.serial`);
 * what a form sends back is read with the same fields, then checked with the same schema as an API request.
 * Objects become their fields; lists and maps, which a flat form cannot hold, a JSON text area.
 */
type FieldKind = 'text' | 'password' | 'number' | 'checkbox' | 'select' | 'json';

export interface FormField {
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  choices?: string[];
  hint?: string;
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  description?: string;
  format?: string;
  default?: unknown;
}

const words = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
export const humane = (name: string) => sentence(words(name));

function fieldsOf(
  schema: JsonSchema,
  path: string[],
  required: boolean,
  options: { prefix: string; secrets: readonly string[] },
): FormField[] {
  // `x | null` is x that may be cleared.
  const branches = schema.anyOf?.filter((branch) => branch.type !== 'null');
  if (branches?.length === 1 && branches[0])
    return fieldsOf({ ...schema, ...branches[0], anyOf: undefined }, path, required, options);
  if (schema.type === 'object' && schema.properties)
    return Object.entries(schema.properties).flatMap(([key, property]) =>
      fieldsOf(property, [...path, key], required && (schema.required ?? []).includes(key), options),
    );
  const name = [options.prefix, ...path].join('.');
  const kind: FieldKind = options.secrets.includes(path.join('.'))
    ? 'password'
    : schema.enum
      ? 'select'
      : schema.type === 'boolean'
        ? 'checkbox'
        : schema.type === 'integer' || schema.type === 'number'
          ? 'number'
          : schema.type === 'string'
            ? 'text'
            : 'json';
  const hint = [
    schema.description,
    schema.format === 'date-time' ? 'e.g. 2026-12-24T09:00:00+01:00' : '',
    kind === 'json' ? 'JSON' : '',
    schema.default !== undefined && kind !== 'checkbox' ? `default ${JSON.stringify(schema.default)}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return [
    {
      name,
      label: sentence(path.map(words).join(' ')),
      kind,
      required: required && schema.default === undefined && kind !== 'checkbox',
      choices: schema.enum?.map(String),
      hint: hint || undefined,
    },
  ];
}

/** The fields of `schema`'s input, named under `prefix`; the paths in `secrets` are write-only (never shown). */
export function formFields(schema: z.ZodType, prefix: string, secrets: readonly string[] = []): FormField[] {
  // Schemas are fixed for the process's life: each is turned into fields once, not on every page view.
  const key = `${prefix}|${secrets.join(',')}`;
  const forSchema = fieldsBySchema.get(schema) ?? new Map<string, FormField[]>();
  fieldsBySchema.set(schema, forSchema);
  let fields = forSchema.get(key);
  if (!fields) {
    const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    fields = fieldsOf(json, [], true, { prefix, secrets });
    forSchema.set(key, fields);
  }
  return fields;
}
const fieldsBySchema = new WeakMap<z.ZodType, Map<string, FormField[]>>();

/**
 * The object the fields under `prefix` say: an empty field is left out (a default applies, a stored secret
 * stays), an unticked box is false. A value that cannot be read (not a number, not JSON) is the field's problem.
 */
export function readForm(
  fields: readonly FormField[],
  body: Record<string, unknown>,
  prefix: string,
): { value: Record<string, unknown> } | { field: string; message: string } {
  const value: Record<string, unknown> = {};
  for (const field of fields) {
    if (!field.name.startsWith(`${prefix}.`)) continue;
    const raw = typeof body[field.name] === 'string' ? (body[field.name] as string).trim() : '';
    let read: unknown = raw;
    if (field.kind === 'checkbox') read = body[field.name] !== undefined;
    else if (raw === '') continue;
    if (field.kind === 'number') {
      read = Number(raw);
      if (!Number.isFinite(read)) return { field: field.name, message: 'must be a number' };
    }
    if (field.kind === 'json') {
      try {
        read = JSON.parse(raw);
      } catch {
        return { field: field.name, message: 'must be JSON' };
      }
    }
    const path = field.name.split('.').slice(1);
    let into = value;
    for (const key of path.slice(0, -1)) {
      into[key] ??= {};
      into = into[key] as Record<string, unknown>;
    }
    into[path.at(-1) ?? ''] = read;
  }
  return { value };
}

/** A stored object as the values of its fields (secrets left empty: they are never shown). */
export function formValues(fields: readonly FormField[], stored: unknown): Record<string, string> {
  const values: Record<string, string> = {};
  for (const field of fields) {
    if (field.kind === 'password') continue;
    let at: unknown = stored;
    for (const key of field.name.split('.').slice(1)) at = (at as Record<string, unknown> | undefined)?.[key];
    if (at === undefined || at === null || at === false) continue;
    values[field.name] = field.kind === 'json' ? JSON.stringify(at) : String(at);
  }
  return values;
}

/** The first problem zod found, as the form field it names (as the API names it, `fieldErrors`). */
export function firstProblem(error: z.ZodError, prefix: string): { field: string; message: string } {
  return fieldErrors(error, prefix)[0] ?? { field: prefix, message: 'invalid' };
}

const controlId = (form: string, name: string) => `${form}-${name.replaceAll('.', '-')}`;

/** One field as a labelled control, with its hint, its value, and its problem when the form came back with one. */
export function Field(props: { form: string; field: FormField; value?: string; problem?: string }) {
  const { field } = props;
  const id = controlId(props.form, field.name);
  const describedBy = [field.hint ? `${id}-hint` : '', props.problem ? `${id}-problem` : '']
    .filter(Boolean)
    .join(' ');
  const common = {
    id,
    name: field.name,
    required: field.required,
    'aria-describedby': describedBy || undefined,
    'aria-invalid': props.problem ? 'true' : undefined,
  };
  return (
    <div>
      <label for={id}>
        {field.label}
        {field.required || field.kind === 'checkbox' ? '' : ' (optional)'}
      </label>
      {field.kind === 'checkbox' ? (
        <input type="checkbox" {...common} checked={props.value !== undefined} />
      ) : field.kind === 'select' ? (
        <select {...common}>
          {!field.required && <option value="">—</option>}
          {field.choices?.map((choice) => (
            <option value={choice} selected={props.value === choice}>
              {choice}
            </option>
          ))}
        </select>
      ) : field.kind === 'json' ? (
        <textarea {...common}>{props.value ?? ''}</textarea>
      ) : (
        <input
          type={field.kind === 'number' ? 'number' : field.kind === 'password' ? 'password' : 'text'}
          autocomplete={field.kind === 'password' ? 'new-password' : undefined}
          {...common}
          value={field.kind === 'password' ? '' : (props.value ?? '')}
        />
      )}
      {field.hint && (
        <small id={`${id}-hint`} class="hint">
          {field.hint}
        </small>
      )}
      {props.problem && (
        <small id={`${id}-problem`} class="error">
          {props.problem}
        </small>
      )}
    </div>
  );
}
