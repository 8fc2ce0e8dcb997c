import { z } from '@hono/zod-openapi';
import type { ResolveRequest } from '../../domain/flow.js';
import { NoInput } from '../../domain/flow.schema.js';
import { FLOW_TYPES } from '../flowTypes.js';
import { CsrfField, flowHref } from './layout.js';

/**
 * The decisions a flow allows now, as forms: each field comes from the JSON Schema of the decision's input as its
 * flow type declares it (`api/flowTypes.ts`), so a new decision, or a new field of one, appears here without a
 * page of its own. What a form sends back is read with the same fields, then checked like any API request.
 */
type FieldKind = 'text' | 'number' | 'checkbox' | 'select' | 'json';

export interface DecisionField {
  /** The form control's name: `input.device.serial`, `note`, `extendBy`. */
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  choices?: string[];
  hint?: string;
}

export interface DecisionForm {
  action: string;
  fields: DecisionField[];
  /** A decision taken through a route of its own (it looks up what it needs), not from this form. */
  route?: string;
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  description?: string;
  format?: string;
}

const words = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

function fieldsOf(schema: JsonSchema, path: string[], required: boolean): DecisionField[] {
  if (schema.type === 'object' && schema.properties)
    return Object.entries(schema.properties).flatMap(([key, property]) =>
      fieldsOf(property, [...path, key], required && (schema.required ?? []).includes(key)),
    );
  const name = ['input', ...path].join('.');
  const label = sentence(path.map(words).join(' '));
  const hint = [schema.description, schema.format === 'date-time' ? 'e.g. 2026-12-24T09:00:00+01:00' : '']
    .filter(Boolean)
    .join(' · ');
  const kind: FieldKind = schema.enum
    ? 'select'
    : schema.type === 'boolean'
      ? 'checkbox'
      : schema.type === 'integer' || schema.type === 'number'
        ? 'number'
        : schema.type === 'string'
          ? 'text'
          : 'json';
  return [
    {
      name,
      label,
      kind,
      required: required && kind !== 'checkbox',
      choices: schema.enum?.map(String),
      hint: hint || (kind === 'json' ? 'JSON' : undefined),
    },
  ];
}

/** The forms for the decisions `options` names, as the flow of type `flowType` takes them. */
export function decisionForms(flowType: string, options: readonly string[]): DecisionForm[] {
  const type = FLOW_TYPES.find((candidate) => candidate.definition.type === flowType);
  return options.map((action) => {
    const schema = type?.decisions[action] ?? NoInput;
    if ('route' in schema) return { action, fields: [], route: schema.route };
    const input = fieldsOf(
      z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema,
      [],
      true,
    );
    const onRecord = action === 'skip' || action === 'fallback';
    const fields: DecisionField[] = [
      ...input,
      ...(action === 'extend'
        ? [
            {
              name: 'extendBy',
              label: 'Extend by',
              kind: 'text' as const,
              required: true,
              hint: 'e.g. 3 days',
            },
          ]
        : []),
      {
        name: 'note',
        label: onRecord ? 'Why, for the flow’s history' : 'Note for the flow’s history',
        kind: 'text',
        required: onRecord,
      },
    ];
    return { action, fields };
  });
}

export type FormDecision = Omit<ResolveRequest, 'actor'>;

/**
 * The decision a submitted form says, read field by field as the form was built: empty fields are left out, so a
 * correction names only what changes. A value that cannot be read (bad JSON, not a number) is returned as the
 * field's problem.
 */
export function decisionFromForm(
  form: DecisionForm,
  body: Record<string, unknown>,
): FormDecision | { field: string; message: string } {
  const decision: FormDecision & { input: Record<string, unknown> } = { action: form.action, input: {} };
  for (const field of form.fields) {
    const raw = typeof body[field.name] === 'string' ? (body[field.name] as string).trim() : '';
    if (field.kind === 'checkbox' ? body[field.name] === undefined : raw === '') continue;
    if (field.name === 'note' || field.name === 'extendBy') {
      decision[field.name] = raw;
      continue;
    }
    let value: unknown = raw;
    if (field.kind === 'checkbox') value = true;
    if (field.kind === 'number') {
      value = Number(raw);
      if (!Number.isFinite(value)) return { field: field.name, message: 'must be a number' };
    }
    if (field.kind === 'json') {
      try {
        value = JSON.parse(raw);
      } catch {
        return { field: field.name, message: 'must be JSON' };
      }
    }
    const path = field.name.split('.').slice(1);
    let into = decision.input;
    for (const key of path.slice(0, -1)) {
      into[key] ??= {};
      into = into[key] as Record<string, unknown>;
    }
    into[path.at(-1) ?? ''] = value;
  }
  return decision;
}

const controlId = (action: string, name: string) => `decide-${action}-${name.replaceAll('.', '-')}`;

export function DecisionForms(props: {
  flowId: string;
  forms: DecisionForm[];
  csrf: string;
  /** A form sent back with a problem: its values and the problem, shown beside its field. */
  failed?: { action: string; values: Record<string, string>; field: string; message: string };
}) {
  return (
    <div class="decisions">
      {props.forms.map((form) => {
        const failed = props.failed?.action === form.action ? props.failed : undefined;
        if (form.route)
          return (
            <p>
              <strong>{form.action}</strong>: through <code>{form.route}</code> (it looks up what it needs).
            </p>
          );
        return (
          <form method="post" action={`${flowHref(props.flowId)}/decide`}>
            <fieldset>
              <legend>{sentence(words(form.action))}</legend>
              <CsrfField token={props.csrf} />
              <input type="hidden" name="action" value={form.action} />
              {failed && (
                <p class="error" role="alert">
                  {form.fields.find((field) => field.name === failed.field.replace(/^body\./, ''))?.label ??
                    failed.field}
                  : {failed.message}
                </p>
              )}
              {form.fields.map((field) => (
                <Control field={field} action={form.action} value={failed?.values[field.name]} />
              ))}
              <button type="submit">{sentence(words(form.action))}</button>
            </fieldset>
          </form>
        );
      })}
    </div>
  );
}

function Control(props: { field: DecisionField; action: string; value?: string }) {
  const { field } = props;
  const id = controlId(props.action, field.name);
  const hintId = field.hint ? `${id}-hint` : undefined;
  const common = { id, name: field.name, required: field.required, 'aria-describedby': hintId };
  return (
    <div>
      <label for={id}>
        {field.label}
        {field.required ? '' : ' (optional)'}
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
        <input type={field.kind === 'number' ? 'number' : 'text'} {...common} value={props.value ?? ''} />
      )}
      {field.hint && (
        <small id={hintId} class="hint">
          {field.hint}
        </small>
      )}
    </div>
  );
}
