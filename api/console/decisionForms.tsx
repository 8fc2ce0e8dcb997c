import type { ResolveRequest } from '../../domain/flow.js';
import { NoInput } from '../../domain/flow.schema.js';
import { FLOW_TYPES } from '../flowTypes.js';
import { CsrfField, flowHref } from './layout.js';
import { Field, type FormField, formFields, humane, readForm } from './schemaForm.js';

/**
 * The decisions a flow allows now, as forms: each field comes from the schema of the decision's input as its flow
 * type declares it (`api/flowTypes.ts`), so a new decision, or a new field of one, appears here without a page of
 * its own. What a form sends back goes through the same check as `POST /v1/flows/{flowId}/resolve`.
 */
export interface DecisionForm {
  action: string;
  fields: FormField[];
  /** A decision taken through a route of its own (it looks up what it needs), not from this form. */
  route?: string;
}

/** The forms for the decisions `options` names, as the flow of type `flowType` takes them. */
export function decisionForms(flowType: string, options: readonly string[]): DecisionForm[] {
  const type = FLOW_TYPES.find((candidate) => candidate.definition.type === flowType);
  return options.map((action) => {
    const schema = type?.decisions[action] ?? NoInput;
    if ('route' in schema) return { action, fields: [], route: schema.route };
    const onRecord = action === 'skip' || action === 'fallback';
    const fields: FormField[] = [
      ...formFields(schema, 'input'),
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
 * The decision a submitted form says: its input from the input fields (an empty one left out, so a correction
 * names only what changes), its note and extension as given.
 */
export function decisionFromForm(
  form: DecisionForm,
  body: Record<string, unknown>,
): FormDecision | { field: string; message: string } {
  const input = readForm(form.fields, body, 'input');
  if (!('value' in input)) return input;
  const text = (name: string) =>
    typeof body[name] === 'string' && (body[name] as string).trim()
      ? (body[name] as string).trim()
      : undefined;
  const decision: FormDecision = { action: form.action, input: input.value };
  const note = text('note');
  const extendBy = text('extendBy');
  if (note) decision.note = note;
  if (extendBy && form.fields.some((field) => field.name === 'extendBy')) decision.extendBy = extendBy;
  return decision;
}

export function DecisionForms(props: {
  flowId: string;
  forms: DecisionForm[];
  csrf: string;
  /** A form sent back with a problem: its values and the problem, shown at its field. */
  failed?: { action: string; values: Record<string, string>; field: string; message: string };
}) {
  return (
    <div class="decisions">
      {props.forms.map((form) => {
        const failed = props.failed?.action === form.action ? props.failed : undefined;
        const problemAt = failed?.field.replace(/^body\./, '');
        if (form.route)
          return (
            <p>
              <strong>{form.action}</strong>: through <code>{form.route}</code> (it looks up what it needs).
            </p>
          );
        return (
          <form method="post" action={`${flowHref(props.flowId)}/decide`}>
            <fieldset>
              <legend>{humane(form.action)}</legend>
              <CsrfField token={props.csrf} />
              <input type="hidden" name="action" value={form.action} />
              {failed && (
                <p class="error" role="alert">
                  {form.fields.find((field) => field.name === problemAt)?.label ?? problemAt}:{' '}
                  {failed.message}
                </p>
              )}
              {form.fields.map((field) => (
                <Field
                  form={`decide-${form.action}`}
                  field={field}
                  value={failed?.values[field.name]}
                  problem={problemAt === field.name ? failed?.message : undefined}
                />
              ))}
              <button type="submit">{humane(form.action)}</button>
            </fieldset>
          </form>
        );
      })}
    </div>
  );
}
