export { createSmtpListener } from './listener.ts';
export type { ListenerOptions, ListenerLimits, IngressDeps, NoticeReply, SmtpListener } from './listener.ts';
export { INTERMEDIATE_CIPHERS, intermediateTlsOptions } from './tls-profile.ts';
export { createInboundE2e, fromAddress, protectionOf, resultValue, RESULT_HEADER } from './e2e-inbound.ts';
export type { InboundE2e, InboundE2eOptions, InboundE2eTransaction, ResultFacts } from './e2e-inbound.ts';
