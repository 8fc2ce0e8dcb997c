import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Typed search attributes every flow upserts, so the Temporal Web UI shows what the flows list shows. */
export const FlowState = defineSearchAttributeKey('FlowState', SearchAttributeType.KEYWORD);
export const FlowStep = defineSearchAttributeKey('FlowStep', SearchAttributeType.KEYWORD);
export const TenantId = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const BusinessKey = defineSearchAttributeKey('BusinessKey', SearchAttributeType.KEYWORD);

export const flowSearchAttributes = [FlowState, FlowStep, TenantId, BusinessKey];
