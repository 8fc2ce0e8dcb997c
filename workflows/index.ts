// The workflow bundle's entry: every workflow type the worker runs is exported from here.
export { automationStep } from './automationStep.js';
export { contractSigning } from './contractSigning.js';
export { invoicePayment } from './invoicePayment.js';
export { leadToInstall } from './leadToInstall.js';
export { orderFulfillment } from './orderFulfillment.js';
export { proposalToPayment } from './proposalToPayment.js';
export { supplierOrder } from './supplierOrder.js';
