export { SmtpClient, SmtpClientError, xtext } from './client.ts';
export type { ConnectOptions, DataReply, TlsDetails } from './client.ts';
export type { SmtpReply } from './reply-reader.ts';
