// Loaded by path (Temporal's workers require it, and bundle it into the workflow code), hence CommonJS.
// A failure's message and stack trace (an email address in an SMTP error, say) go into its encoded attributes,
// which the payload codec encrypts (runtime/payloadCodec.ts).
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
