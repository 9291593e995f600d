export { createSmtpListener } from './listener.ts';
export type { ListenerOptions, ListenerLimits, IngressDeps, NoticeReply, SmtpListener } from './listener.ts';
export { INTERMEDIATE_CIPHERS, intermediateTlsOptions } from './tls-profile.ts';
